"""Salons: hair salons, barbers, nail and beauty rooms."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

VERTICAL = Vertical(
    name="salon",
    businesses=(
        ("Luxe Hair Studio", "hair", "uk"),
        ("The Fade Room", "barber", "uk"),
        ("Polished Nail & Beauty", "beauty", "us"),
        ("Copper & Co Hair", "hair", "uk"),
        ("Bluebell Beauty Rooms", "beauty", "uk"),
        ("Sharp Lines Barbers", "barber", "us"),
        ("Salon Verde", "hair", "us"),
        ("Glow Skin & Lash Bar", "beauty", "us"),
        ("Velvet Chair Salon", "hair", "uk"),
        ("Old Town Barber Co", "barber", "uk"),
        ("Halo Hair Collective", "hair", "us"),
        ("Petal Nail Lounge", "beauty", "uk"),
    ),
    kinds={
        "hair": Kind(
            noun="hair salon",
            services=(
                ("Cut and blow-dry", 55),
                ("Full head colour", 95),
                ("Balayage", 160),
                ("Gents cut", 28),
                ("Blow-dry", 32),
                ("Keratin smoothing treatment", 180),
            ),
            staff=("{first}|stylist", "{first}|senior stylist", "{first}|colourist"),
            hours=(
                "Tuesday to Saturday 9am to 6pm, late nights until 8pm on Thursdays. Closed Sundays "
                "and Mondays.",
                "Monday to Saturday 9am to 7pm and Sunday 10am to 4pm.",
            ),
        ),
        "barber": Kind(
            noun="barbershop",
            services=(
                ("Skin fade", 24),
                ("Cut and beard trim", 34),
                ("Beard trim and shape", 14),
                ("Kids cut (under 12)", 16),
                ("Hot towel shave", 28),
            ),
            staff=("{first}|barber", "{first}|barber", "{first}|owner and master barber"),
            hours=(
                "Monday to Friday 9am to 7pm, Saturday 8am to 5pm. Walk-ins welcome, but booking "
                "guarantees your slot.",
            ),
        ),
        "beauty": Kind(
            noun="beauty salon",
            services=(
                ("Gel manicure", 32),
                ("Lash lift and tint", 55),
                ("Brow wax and tint", 22),
                ("Signature facial (60 min)", 70),
                ("Luxury pedicure", 38),
            ),
            staff=("{first}|therapist", "{first}|lash technician", "{first}|senior therapist"),
            hours=(
                "Monday to Saturday 9:30am to 7pm and Sunday 11am to 4pm.",
                "Tuesday to Sunday 10am to 7pm.",
            ),
        ),
    },
    agent_roles=("Bookings", "After-hours bookings", "Client care"),
    scenarios=(
        Scenario(
            key="haircut",
            kinds=("hair", "barber"),
            service="cut",
            opener=(
                "Hi, can I book a haircut for this week?",
                "Hiya, I need a trim — have you got anything on {day}?",
                "Hello, I'd like to book a cut with {staff} if they're free.",
            ),
            core=(
                X(
                    "A",
                    (
                        "Of course! Is it just a cut, or a cut and finish?",
                        "Sure. What are we doing — a tidy-up or a restyle?",
                    ),
                    (
                        "Just a cut and blow-dry please. Maybe an inch off.",
                        "A skin fade, number one on the sides, and tidy the top.",
                        "I'm thinking of going quite a bit shorter actually.",
                    ),
                ),
                X(
                    "A",
                    (
                        "{staff} has {day} at {time} or {day2} at {time2}.",
                        "I've got {time} on {day} with {staff}. Would that suit?",
                    ),
                    ("{day} at {time}, perfect.", "{day} is great — {time} works."),
                ),
                X(
                    "A",
                    ("That's {cur}{price}. Have you been to us before?",),
                    ("Yes, a couple of times.", "No, first time — a friend recommended you."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Can I bring a photo of what I want?",),
                    ("Please do! It really helps {staff} get it right.",),
                ),
                X(
                    "C",
                    ("Do you do student discount?",),
                    ("We do ten percent off Monday to Wednesday with a valid student card.",),
                ),
                X(
                    "C",
                    ("Is there somewhere to park?",),
                    ("There's a {car_park} just round the corner, and it's free after six.",),
                ),
            ),
            confirm=("You're booked in with {staff} on {day} at {time}.",),
            notes=(
                "New client, referred by a friend. Considering a big restyle.",
                "Regular — prefers {staff}. Late appointments only.",
            ),
        ),
        Scenario(
            key="colour_consultation",
            kinds=("hair",),
            service="Balayage",
            opener=(
                "Hi, I'd like to get balayage done, but I've got box dye on my hair at the moment. "
                "Is that okay?",
                "Hello, I want to go from dark brown to a lighter blonde. What do I need to book?",
            ),
            core=(
                X(
                    "A",
                    (
                        "Great question. With previous colour on the hair we always start with a free "
                        "consultation and a patch test at least 48 hours before.",
                    ),
                    ("Okay, that makes sense.", "Do I have to come in twice, then?"),
                ),
                X(
                    "A",
                    (
                        "Yes — the consultation takes fifteen minutes. Balayage starts at {cur}{price}, "
                        "and {staff} will give you an exact price once they've seen your hair.",
                    ),
                    ("That's fine.", "Okay, and how long does the appointment take?"),
                ),
                X(
                    "A",
                    (
                        "Allow around three hours. I can do the consultation on {day} at {time}, and "
                        "the colour the following week.",
                    ),
                    ("Perfect, let's do that.", "Great, that works."),
                ),
            ),
            confirm=(
                "I've booked your consultation and patch test on {day} at {time} with {staff}.",
            ),
            notes=(
                "Box dye on hair — needs colour strip assessment.",
                "Dark brown to blonde, likely two sessions.",
            ),
        ),
        Scenario(
            key="nails_lashes",
            kinds=("beauty",),
            service=None,
            opener=(
                "Hi, can I book a {service} for {day}?",
                "Hello, I'd like to book a {service}, please.",
                "Hi, do you have anything for a {service} this week? It's my birthday treat.",
            ),
            core=(
                X(
                    "A",
                    ("Lovely! Have you had this treatment with us before?",),
                    ("No, first time here.", "Yes, I came in a few weeks ago."),
                ),
                X(
                    "A",
                    (
                        "{staff} has {day} at {time} — it's {cur}{price}. If you're having any "
                        "tinting, we'll also need a quick patch test 48 hours before.",
                        "{staff} can do {day} at {time}. The {service} is {cur}{price}.",
                    ),
                    ("That's perfect.", "Lovely, book me in."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("How long does gel last?",),
                    ("Usually two to three weeks, and removal is included if you rebook with us.",),
                ),
                X(
                    "C",
                    ("Do you sell gift vouchers?",),
                    ("Yes, any amount, on our website or at reception. They're valid for a year.",),
                ),
            ),
            confirm=("You're all booked in with {staff} on {day} at {time}.",),
            notes=(
                "Birthday treat. Interested in a package.",
                "Needs patch test before lash tint.",
            ),
        ),
        Scenario(
            key="group_booking",
            kinds=("hair", "beauty"),
            service="Blow-dry",
            opener=(
                "Hi, I'm getting married in June and I'm looking for hair and make-up for me and "
                "four bridesmaids.",
                "Hello, do you do bridal hair? My wedding's next spring and there are five of us.",
            ),
            core=(
                X(
                    "A",
                    ("Congratulations! Have you set the date, and where are you getting ready?",),
                    (
                        "It's a Saturday — we're getting ready at my mum's house in {city}.",
                        "Yes, a Saturday, and we'd love to come to the salon if that's possible.",
                    ),
                ),
                X(
                    "A",
                    (
                        "We'd love to help. For weddings we do a trial first, and {staff} travels to "
                        "you on the day. Bridal packages start around {cur}350.",
                    ),
                    ("That sounds great.", "Is a deposit needed to hold the date?"),
                ),
                X(
                    "A",
                    ("Shall I book your trial for {day} at {time}?",),
                    ("Yes please.", "Let me check with my bridesmaids and call you back."),
                ),
            ),
            confirm=("I'll email our bridal brochure and hold {day} at {time} for your trial.",),
            notes=(
                "Wedding, 5 people, on location. Send bridal brochure.",
                "Bridal party of 5 — price per head requested.",
            ),
        ),
        Scenario(
            key="running_late",
            faq=False,
            kinds=(),
            lead=False,
            contact=False,
            opener=(
                "Hi, I've got an appointment at {time} and I'm stuck in traffic, I'll be about fifteen "
                "minutes late.",
            ),
            core=(
                X(
                    "A",
                    ("Thanks for letting us know. What name is the booking under?",),
                    ("{full}.", "It's under {first}."),
                ),
                X(
                    "A",
                    (
                        "Okay {first}, I'll let {staff} know. We may need to shorten the appointment a "
                        "little, but we'll fit you in.",
                    ),
                    ("Thank you so much.", "Brilliant, sorry about this."),
                ),
            ),
            weight=0.3,
        ),
        Scenario(
            key="late_cancellation",
            faq=False,
            kinds=(),
            lead=False,
            contact=False,
            opener=("Hello, I need to cancel my appointment tomorrow, I'm really sorry.",),
            core=(
                X(
                    "A",
                    ("That's okay. What name is the booking under?",),
                    ("{full}.",),
                ),
                X(
                    "A",
                    (
                        "Thanks, {first}. As it's under {cancel_hours} hours' notice there may be a "
                        "{cur}{late_fee} fee, but I'll note it's your first time. Would you like to "
                        "rebook?",
                    ),
                    (
                        "Okay, understood. I'll rebook online.",
                        "Not yet, I'll call back. Sorry again.",
                    ),
                ),
            ),
            weight=0.3,
        ),
    ),
    faq=(
        X(
            "C",
            ("Do you use vegan products?",),
            ("Most of our range is vegan and cruelty-free — just ask and {staff} can show you.",),
        ),
        X(
            "C",
            ("Can I pay by card?",),
            ("Card, contactless or Apple Pay, yes. We don't take cheques.",),
        ),
        X(
            "A",
            ("Any allergies or sensitivities we should know about?",),
            ("My scalp can get a bit itchy with some products.", "None that I know of."),
        ),
        X(
            "C",
            ("Have you got wifi? I might need to take a call.",),
            ("We do, the password is on the card at reception.",),
        ),
    ),
    card_ask=(
        "We take a {cur}{deposit} deposit for appointments over an hour, which comes off your bill. "
        "Can I take a card for that?",
        "To secure the booking I just need a card on file — nothing is charged unless you cancel "
        "with less than {cancel_hours} hours' notice.",
    ),
    web_leads=(
        "Instagram DM: asked about balayage prices.",
        "Booked online, then asked for a call back about a patch test.",
        "Gift voucher purchaser — wants to book for partner.",
        "Bridal enquiry via website, wedding in {city}.",
    ),
    docs=(
        Doc(
            title="Treatment menu and prices",
            paragraphs=(
                "Welcome to {business}. Our prices start from the amounts below; your stylist or "
                "therapist confirms the exact price before starting.",
                "{price_list}",
                "We offer ten percent off for students Monday to Wednesday and a free fringe trim "
                "between appointments for regular clients.",
            ),
        ),
        Doc(
            title="Booking, deposits and cancellations",
            paragraphs=(
                "Book online at {website}, call {business_phone}, or message us any time — our "
                "virtual assistant takes bookings around the clock.",
                "Appointments over an hour need a {cur}{deposit} deposit, which comes off your bill.",
                "Please give at least {cancel_hours} hours' notice to cancel or move an appointment. "
                "Late cancellations and no-shows are charged {cur}{late_fee}.",
                "If you are more than fifteen minutes late we may need to shorten or rebook your "
                "appointment so we don't keep the next client waiting.",
            ),
        ),
        Doc(
            title="Patch tests and allergies",
            paragraphs=(
                "For your safety, we require a skin patch test at least 48 hours before any colour, "
                "tint or lash treatment if you are new to us or haven't had one in six months.",
                "Patch tests are free and take five minutes. Pop in any time during opening hours.",
                "Please tell us about any allergies, sensitivities, pregnancy, or medication that "
                "affects your skin before your appointment.",
            ),
        ),
        Doc(
            title="Finding us and opening hours",
            paragraphs=(
                "We are at {address}. {parking}",
                "Opening hours: {hours}",
                "Our team: {staff_list}.",
            ),
        ),
    ),
    colours=("#db2777", "#a21caf", "#be123c", "#0f172a", "#b45309"),
)
