"""Home services: plumbing and heating, electricians, cleaners, roofers."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

VERTICAL = Vertical(
    name="home_services",
    businesses=(
        ("Rapid Flow Plumbing & Heating", "heating", "uk"),
        ("Sparkline Electrical", "electrical", "uk"),
        ("HomeGlow Cleaning Co", "cleaning", "us"),
        ("TopCoat Roofing", "roofing", "us"),
        ("Hearth & Home Heating", "heating", "uk"),
        ("BrightWire Electric", "electrical", "us"),
        ("Fresh Start Cleaners", "cleaning", "uk"),
        ("Summit Roofing & Gutters", "roofing", "uk"),
        ("Bluebird Plumbing", "heating", "us"),
        ("Northgate Electrical Services", "electrical", "uk"),
        ("Spotless Nest Cleaning", "cleaning", "us"),
        ("Ironbridge Heating Engineers", "heating", "uk"),
    ),
    kinds={
        "heating": Kind(
            noun="plumbing and heating company",
            services=(
                ("Annual {boiler} service", 85),
                ("Call-out and first hour", 95),
                ("Additional labour, per hour", 60),
                ("Combi {boiler} replacement, from", 2400),
                ("Power flush", 450),
            ),
            staff=("{first}|heating engineer", "{first}|senior engineer", "{first}|plumber"),
            hours=(
                "Monday to Friday 8am to 6pm and Saturday 9am to 1pm, with a 24/7 emergency call-out "
                "line.",
            ),
        ),
        "electrical": Kind(
            noun="electrical contractor",
            services=(
                ("Call-out and first hour", 90),
                ("Electrical safety inspection (EICR)", 180),
                ("Consumer unit upgrade", 650),
                ("Extra double socket", 120),
                ("EV charger installation", 950),
            ),
            staff=("{first}|electrician", "{first}|approved electrician", "{first}|apprentice"),
            hours=("Monday to Friday 7:30am to 5:30pm. Emergency call-outs 24/7.",),
        ),
        "cleaning": Kind(
            noun="cleaning company",
            services=(
                ("Regular home clean, per hour", 24),
                ("One-off deep clean, from", 180),
                ("End-of-tenancy clean, from", 280),
                ("Oven clean", 75),
                ("Carpet clean, per room", 45),
            ),
            staff=("{first}|cleaning team lead", "{first}|cleaner", "{first}|operations manager"),
            hours=("Monday to Saturday 8am to 6pm.",),
        ),
        "roofing": Kind(
            noun="roofing company",
            services=(
                ("Roof inspection with photo report", 150),
                ("Slipped or broken tile repair", 180),
                ("Gutter clear and check", 110),
                ("Flat roof replacement, per square metre", 85),
                ("Chimney repointing, from", 450),
            ),
            staff=("{first}|roofer", "{first}|estimator", "{first}|site supervisor"),
            hours=("Monday to Friday 7am to 5pm, Saturday by arrangement.",),
        ),
    },
    agent_roles=("Bookings and quotes", "Emergency line", "Customer care"),
    scenarios=(
        Scenario(
            key="boiler_breakdown",
            kinds=("heating",),
            service="Call-out",
            opener=(
                "Hi, my {boiler} has packed up — no heating and no hot water. Can someone come out "
                "today?",
                "Hello, the {boiler}'s showing an error code and won't fire up.",
                "Hi, our {boiler} keeps cutting out and making a banging noise. We've got a baby in "
                "the house.",
            ),
            core=(
                X(
                    "A",
                    (
                        "I'm sorry, that's no fun at this time of year. Do you know the make of the "
                        "{boiler}, and is there an error code on the display?",
                    ),
                    (
                        "It's a Worcester, I think. It says EA on the screen.",
                        "It's a Vaillant, about ten years old. F.22 flashing.",
                        "No idea of the make, sorry. There's a red light flashing.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Thanks. Have you checked the pressure gauge? It should be between one and "
                        "one-and-a-half bar.",
                    ),
                    ("It's right down at zero.", "It looks normal, about one."),
                ),
                X(
                    "A",
                    (
                        "Okay, it's best an engineer looks at it. {staff} can be with you between "
                        "{time} and {time2} today. The call-out including the first hour is "
                        "{cur}{price}, then parts are quoted on the day.",
                    ),
                    (
                        "Yes please, as soon as possible.",
                        "That's fine. Is there any way to get it going in the meantime?",
                    ),
                ),
                X(
                    "A",
                    (
                        "If you smell gas at any point, turn it off at the meter and call the gas "
                        "emergency line straight away. Otherwise, keep warm, and {staff} will call "
                        "when they're on the way.",
                        "Please don't take the casing off. {staff} will text you when they're twenty "
                        "minutes away.",
                    ),
                    ("Will do, thank you.", "Okay, understood."),
                ),
            ),
            extras=(
                X(
                    "A",
                    ("Is anyone vulnerable in the house — elderly, or very young children?",),
                    ("My mum's eighty-two and lives with us.", "We have a six-month-old."),
                ),
                X(
                    "C",
                    ("Should I think about replacing it? It's quite old.",),
                    (
                        "{staff} can advise on the day. A new combi {boiler} starts from around "
                        "{cur}2,400 fitted, with a ten-year warranty.",
                    ),
                ),
                X(
                    "A",
                    ("And the address for the job, with the {postcode}?",),
                    ("It's {customer_address}.",),
                ),
            ),
            confirm=(
                "So {staff} will be with you between {time} and {time2} today. Your job reference is "
                "{ref}.",
            ),
            notes=(
                "No heating/hot water. Vulnerable occupant. Same-day call-out.",
                "{boiler} ~10 years old — customer asked about replacement.",
                "Pressure loss — likely leak; book follow-up.",
            ),
        ),
        Scenario(
            key="electrical_fault",
            kinds=("electrical",),
            service="Call-out",
            opener=(
                "Hi, the electrics keep tripping in the kitchen and I can't reset it.",
                "Hello, half the sockets in the house have stopped working since this morning.",
                "Hi, every time I turn the oven on, the whole kitchen trips out.",
            ),
            core=(
                X(
                    "A",
                    (
                        "Okay. Is there any burning smell, or scorch marks on a socket? If so, please "
                        "switch off at the main switch.",
                    ),
                    ("No smell, it just trips.", "No, nothing like that."),
                ),
                X(
                    "A",
                    (
                        "Have you tried unplugging everything on that circuit and resetting the trip "
                        "switch?",
                    ),
                    (
                        "Yes, it trips again when I plug the kettle in.",
                        "I tried, it won't stay up at all.",
                    ),
                ),
                X(
                    "A",
                    (
                        "It sounds like a faulty appliance or a wiring fault. {staff} can come on {day} "
                        "between {time} and {time2}. Call-out with the first hour is {cur}{price}.",
                    ),
                    ("Great, book it in.", "Okay, that works."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Are you certified?",),
                    (
                        "Yes, all our electricians are fully qualified and registered, and all work "
                        "is certified.",
                    ),
                ),
                X(
                    "A",
                    ("Is there off-road parking for the van?",),
                    ("Yes, on the drive.", "Street parking only, sorry."),
                ),
            ),
            confirm=("{staff} will see you {day} between {time} and {time2}.",),
            notes=(
                "Kitchen circuit tripping — suspected appliance fault.",
                "Oven trips the RCD — likely element fault.",
            ),
        ),
        Scenario(
            key="cleaning_quote",
            kinds=("cleaning",),
            service="deep clean",
            opener=(
                "Hi, I'm moving out of my {flat} at the end of the month and need an end-of-tenancy "
                "clean.",
                "Hello, could I get a quote for a one-off deep clean of the house?",
                "Hi, we need a deep clean before my in-laws come to stay next week.",
            ),
            core=(
                X(
                    "A",
                    ("Happy to help. How many bedrooms and bathrooms is the property?",),
                    ("Two bedrooms, one bathroom.", "Four beds, two and a half baths."),
                ),
                X(
                    "A",
                    (
                        "For that size a deep clean starts from {cur}{price}, and we bring all the "
                        "products and equipment.",
                        "We'd send a team of two for about five hours. That comes to around "
                        "{cur}{price}.",
                    ),
                    ("That's reasonable.", "Okay, that sounds fair."),
                ),
                X(
                    "A",
                    ("We can do {day} from {time}. Will someone be home to let us in?",),
                    (
                        "I'll leave a key with the neighbour.",
                        "Yes, I work from home.",
                    ),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Are your cleaners insured and vetted?",),
                    ("Yes, everyone is background-checked, trained and fully insured.",),
                ),
                X(
                    "C",
                    ("Do you guarantee the deposit back for end-of-tenancy?",),
                    (
                        "If the landlord flags anything within 72 hours we come back free of charge.",
                    ),
                ),
                X(
                    "A",
                    ("Any pets in the house?",),
                    ("A very friendly labrador.", "No pets."),
                ),
            ),
            confirm=(
                "You're booked for {day} from {time}. I'll email the checklist we work from.",
            ),
            notes=(
                "End of tenancy, 2-bed. Key with neighbour.",
                "One-off deep clean before family visit. Dog in house.",
            ),
        ),
        Scenario(
            key="roof_leak",
            kinds=("roofing",),
            service="inspection",
            opener=(
                "Hi, we've got water coming through the bedroom ceiling after the storm last night.",
                "Hello, a few tiles have blown off the roof and I can see a gap.",
                "Hi, since the storm there's a damp patch spreading on the bedroom ceiling.",
            ),
            core=(
                X(
                    "A",
                    (
                        "Sorry to hear that. Is water coming in right now? If so, put a bucket down and "
                        "keep it away from light fittings.",
                    ),
                    ("It's stopped for now.", "Just a drip, I've got a bucket under it."),
                ),
                X(
                    "A",
                    (
                        "We'll send someone to inspect and do a temporary repair. {staff} can be there "
                        "{day} morning. An inspection with a photo report is {cur}{price}.",
                    ),
                    ("Yes please.", "Does the inspection fee come off the repair?"),
                ),
                X(
                    "A",
                    (
                        "If you go ahead with the repair, the inspection fee is deducted. Is it worth "
                        "checking your home insurance — storm damage is often covered.",
                    ),
                    ("Good idea, I'll ring them.", "I'll check, thanks."),
                ),
            ),
            confirm=("{staff} will be with you {day} morning, between {time} and {time2}.",),
            notes=(
                "Storm damage — possible insurance claim. Photos needed.",
                "Damp patch after storm; check flashing and gutters.",
            ),
        ),
        Scenario(
            key="quote_callback",
            kinds=(),
            service="from",
            opener=(
                "Hi, {staff} came round last week to quote and I haven't received it yet.",
                "Hello, I'm just chasing a quote you were going to send over.",
            ),
            core=(
                X(
                    "A",
                    ("Sorry about that. Can I take the name and {postcode} for the job?",),
                    ("{full}, and the {postcode} is {postcode_value}.",),
                ),
                X(
                    "A",
                    (
                        "Thanks. I can see {staff}'s notes — the quote is ready, it just hadn't been "
                        "sent. It comes to {cur}{price} including materials.",
                    ),
                    ("Okay, that's about what I expected.", "Hmm, that's higher than I hoped."),
                ),
                X(
                    "A",
                    (
                        "I'll email it now. We can start as soon as {day} if you'd like to go ahead.",
                    ),
                    ("Send it over and I'll confirm tonight.", "Let me think about it."),
                ),
            ),
            confirm=("The quote is on its way to your inbox now.",),
            notes=("Chased overdue quote — send today.", "Price-sensitive; offer staged payments."),
            weight=0.7,
        ),
        Scenario(
            key="complaint",
            faq=False,
            kinds=(),
            lead=False,
            contact=False,
            opener=(
                "Hi, your engineer was here on Tuesday and left a mess in the hallway. I'm not happy.",
                "Hello, the repair you did last week is leaking again.",
            ),
            core=(
                X(
                    "A",
                    (
                        "I'm really sorry to hear that. Can you give me the name on the job so I can "
                        "look it up?",
                    ),
                    ("It's {full}.",),
                ),
                X(
                    "A",
                    (
                        "Thanks, {first}. I've found it. I'll ask our customer care manager to call you "
                        "today, and we'll come back to put it right at no charge.",
                    ),
                    ("Okay. I'd appreciate that.", "Fine, but I want it sorted this week."),
                ),
            ),
            weight=0.4,
        ),
    ),
    faq=(
        X(
            "C",
            ("Do you charge VAT on top?",),
            ("All our prices include VAT.", "Our prices include tax, no hidden extras."),
        ),
        X(
            "C",
            ("Are you on any trade review sites?",),
            ("Yes, we've got over two hundred five-star reviews — links are on {website}.",),
        ),
        X(
            "C",
            ("Do you give a guarantee on your work?",),
            ("Twelve months on all labour, plus the manufacturer's warranty on parts.",),
        ),
        X(
            "A",
            ("Is the property a house or {a_flat}?",),
            ("A house, semi-detached.", "A ground-floor {flat}."),
        ),
    ),
    card_ask=(
        "We take the call-out fee up front to confirm the booking. Can I take a card?",
        "To book the slot we just need a {cur}{deposit} deposit by card, which comes off the final "
        "invoice.",
    ),
    web_leads=(
        "Web form: quote for a combi {boiler} replacement.",
        "Trade directory enquiry: end-of-tenancy clean, 3-bed.",
        "Asked for an EICR quote for a rental property.",
        "Photo of roof damage sent via WhatsApp.",
    ),
    docs=(
        Doc(
            title="Prices and call-out charges",
            paragraphs=(
                "{business} keeps prices clear. These are our standard rates; larger jobs get a free "
                "written quote.",
                "{price_list}",
                "Call-outs between 6pm and 8am, weekends and bank holidays are charged at time and a "
                "half. We never start extra work without your agreement.",
                "We accept card, bank transfer and contactless on site.",
            ),
        ),
        Doc(
            title="Emergency call-outs",
            paragraphs=(
                "Our emergency line on {business_phone} is answered 24/7, by our team during office "
                "hours and by our virtual assistant at night.",
                "We prioritise households with no heating or hot water in winter, elderly or "
                "vulnerable occupants, and homes with young children. We aim to attend within four "
                "hours.",
                "If you smell gas, leave the property, don't use switches, and call the gas emergency "
                "line first.",
            ),
        ),
        Doc(
            title="Guarantees, insurance and accreditations",
            paragraphs=(
                "All labour is guaranteed for twelve months. Parts carry the manufacturer's warranty, "
                "which we register for you.",
                "We carry public liability insurance up to {cur}5 million, and every engineer is "
                "vetted, trained and carries ID.",
                "If you are not happy with any job, email {email_business} and our customer care "
                "manager will call you within one working day.",
            ),
        ),
        Doc(
            title="Booking, cancellations and access",
            paragraphs=(
                "Book at {website}, call {business_phone}, or message us any time.",
                "We give two-hour arrival windows and text you when the engineer is on the way.",
                "Please give {cancel_hours} hours' notice to cancel. Missed appointments where we "
                "cannot get access may be charged {cur}{late_fee}.",
                "Our team: {staff_list}. Office hours: {hours}",
            ),
        ),
    ),
    colours=("#1d4ed8", "#b91c1c", "#047857", "#c2410c", "#4338ca"),
)
