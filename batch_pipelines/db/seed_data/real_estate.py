"""Real estate: estate and letting agents (sales, lettings, property management)."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

_AGENCY_SERVICES = (
    ("Sales valuation", 0),
    ("Sales instruction, fixed fee", 1995),
    ("Tenant-find service", 750),
    ("Fully managed lettings, per month", 95),
    ("Inventory and check-in report", 150),
)

VERTICAL = Vertical(
    name="real_estate",
    businesses=(
        ("Harbor Homes", "agency", "us"),
        ("Keystone Lettings", "lettings", "uk"),
        ("Greenleaf Property", "agency", "uk"),
        ("Bayside Realty", "agency", "us"),
        ("Marlow & Finch Estate Agents", "agency", "uk"),
        ("Urban Nest Lettings", "lettings", "uk"),
        ("Pinecrest Realty", "agency", "us"),
        ("Castlegate Estates", "agency", "uk"),
        ("Hudson Row Rentals", "lettings", "us"),
        ("Foxley Property Management", "lettings", "uk"),
        ("Redbrick Residential", "agency", "uk"),
        ("Canyon Ridge Realty", "agency", "us"),
    ),
    kinds={
        "agency": Kind(
            noun="estate agency",
            services=_AGENCY_SERVICES,
            staff=("{first}|negotiator", "{first}|senior negotiator", "{first}|valuer"),
            hours=(
                "Monday to Friday 9am to 6pm and Saturday 9am to 4pm. Viewings by appointment, "
                "including weekday evenings.",
                "Monday to Saturday 8:30am to 6pm, Sunday 10am to 2pm for viewings.",
            ),
        ),
        "lettings": Kind(
            noun="letting agency",
            services=_AGENCY_SERVICES[2:],
            staff=(
                "{first}|lettings negotiator",
                "{first}|property manager",
                "{first}|lettings manager",
            ),
            hours=(
                "Monday to Friday 9am to 5:30pm and Saturday 10am to 2pm. Our maintenance line for "
                "emergencies is open 24/7.",
            ),
        ),
    },
    agent_roles=("Viewings line", "Valuations", "Tenant maintenance"),
    scenarios=(
        Scenario(
            key="flat_viewing",
            kinds=(),
            service="Tenant-find",
            opener=(
                "Hi, I'm calling about the two-bed {flat} on {street2} — is it still available?",
                "Hello, I saw the one-bedroom {flat} you've got listed on {street2}. Can I book a "
                "viewing?",
                "Hi, I'd like to view the {flat} on {street2}, the one at {cur}{rent} {rent_period}.",
            ),
            core=(
                X(
                    "A",
                    (
                        "It is, yes — it's been really popular. When are you looking to move?",
                        "Yes, still available. Are you looking to move soon?",
                    ),
                    (
                        "My current tenancy ends at the end of next month, so fairly soon.",
                        "As soon as possible really, I'm starting a new job in {city}.",
                    ),
                ),
                X(
                    "A",
                    (
                        "And who would be living there — just yourself?",
                        "How many people would be moving in, and any pets?",
                    ),
                    (
                        "Me and my partner. No pets, though we'd love a cat eventually.",
                        "Just me. I've got a small dog, is that a problem?",
                    ),
                ),
                X(
                    "A",
                    (
                        "Good to know — the landlord considers pets case by case. The rent is "
                        "{cur}{rent} {rent_period}, with five weeks' deposit.",
                        "Thanks. The landlord considers pets case by case. The rent is {cur}{rent} "
                        "{rent_period}, bills not included, and it's available from the first of next "
                        "month.",
                    ),
                    ("That's within budget.", "Okay. Are utilities included?"),
                ),
                X(
                    "A",
                    (
                        "I can show you round on {day} at {time}, or {day2} at {time2} after work.",
                        "{staff} is doing viewings there on {day} — {time} is free.",
                    ),
                    ("{day} at {time} please.", "{day} at {time} is perfect, thanks."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Is there parking?",),
                    ("There's one allocated space, and permit parking on the street.",),
                ),
                X(
                    "C",
                    ("What's the broadband like? I work from home.",),
                    ("Full fibre is available in the building, up to 900 megabits.",),
                ),
                X(
                    "C",
                    ("Is it furnished?",),
                    (
                        "It comes part-furnished — beds, sofa and white goods — but the landlord can "
                        "remove things if you'd rather.",
                    ),
                ),
                X(
                    "A",
                    ("Are you working full-time at the moment? We ask as part of referencing.",),
                    ("Yes, I'm a nurse at the hospital.", "Yes, I'm in software, full-time."),
                ),
            ),
            confirm=(
                "So that's a viewing at {street2} on {day} at {time} with {staff}. I'll text you the "
                "exact address and the key code for the main door.",
            ),
            notes=(
                "Couple, no pets. Move by end of next month. Viewing booked.",
                "Has a small dog — check with landlord.",
                "Works from home; asked about broadband.",
            ),
        ),
        Scenario(
            key="valuation",
            kinds=("agency",),
            sensitive=(),
            service="Sales valuation",
            opener=(
                "Hi, we're thinking of selling our house and wondered what it might be worth.",
                "Hello, can I book a valuation? We're looking to put the house on the market in the "
                "spring.",
            ),
            core=(
                X(
                    "A",
                    ("Lovely. Can you tell me a bit about the property?",),
                    (
                        "It's a three-bed semi with a {garden}, off-street parking and a loft "
                        "conversion.",
                        "It's a two-bed terrace, recently renovated — new kitchen last year.",
                    ),
                ),
                X(
                    "A",
                    ("Sounds lovely. Are you looking to buy onward, or moving in with someone?",),
                    (
                        "We're buying somewhere bigger, probably out of town.",
                        "We're relocating for work, so we'd want a quick sale.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Our valuations are free and take about 45 minutes. {staff} can come on {day} "
                        "at {time}.",
                    ),
                    ("Perfect.", "{day} is great, we're both home then."),
                ),
                X(
                    "C",
                    ("What do you charge if we do sell with you?",),
                    (
                        "We're fixed fee — {cur}1,995 including photos, floor plan and viewings, "
                        "with no sale, no fee.",
                    ),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("How long are houses taking to sell round here at the moment?",),
                    (
                        "Well-priced family homes are going under offer in four to six weeks in your "
                        "area.",
                    ),
                ),
                X(
                    "C",
                    ("Do we have to sign up for a long contract?",),
                    ("No, it's a twelve-week sole agency with two weeks' notice after that.",),
                ),
            ),
            confirm=("I've booked the valuation with {staff} on {day} at {time}.",),
            notes=(
                "3-bed semi, loft conversion. Buying onward. Valuation booked.",
                "Relocating — wants quick sale. Price sensitive on fees.",
            ),
        ),
        Scenario(
            key="landlord_enquiry",
            kinds=(),
            sensitive=(),
            service="Fully managed",
            opener=(
                "Hi, I've got {a_flat} I'm going to rent out and I'm looking for an agent to manage it.",
                "Hello, I'm an accidental landlord — I've inherited a house and want to let it. What "
                "do you offer?",
            ),
            core=(
                X(
                    "A",
                    ("Happy to help. Where's the property, and is it ready to let?",),
                    (
                        "It's on {street2}. It needs a repaint but otherwise it's ready.",
                        "It's near the station. The last tenant moved out last week.",
                    ),
                ),
                X(
                    "A",
                    (
                        "We can do tenant-find only, or fully managed at {cur}{price} a month, which "
                        "covers rent collection, maintenance and inspections.",
                    ),
                    (
                        "Fully managed, I think — I live two hours away.",
                        "Fully managed, definitely. I don't have time to deal with repairs.",
                    ),
                ),
                X(
                    "A",
                    (
                        "You'll also need up-to-date gas, electrical and energy safety certificates "
                        "before tenants move in — we can arrange all of them.",
                    ),
                    ("Oh, I didn't know that. Yes please.", "I have the gas one already."),
                ),
            ),
            confirm=(
                "I'll send over our landlord pack and {staff} will call you to arrange a rental "
                "valuation on {day}.",
            ),
            notes=(
                "New landlord, lives 2h away — wants fully managed.",
                "Needs safety certificates arranging.",
            ),
        ),
        Scenario(
            key="maintenance_report",
            faq=False,
            kinds=(),
            lead=False,
            opener=(
                "Hi, I'm a tenant at {street2} and the boiler's stopped working — we've no hot water.",
                "Hello, there's a leak coming through the kitchen ceiling in my {flat} on {street2}.",
            ),
            core=(
                X(
                    "A",
                    (
                        "I'm sorry to hear that. Is anyone in the property vulnerable, and is anything "
                        "being damaged right now?",
                    ),
                    (
                        "It's just me, and nothing's getting damaged so far.",
                        "My neighbour downstairs says it's affecting them too.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Okay. I'm raising an urgent job now and our contractor will call you within "
                        "two hours to arrange access.",
                    ),
                    ("Thank you. I'm home all day.", "Great, I'm in after three."),
                ),
            ),
            confirm=("Your reference is {ref}. The contractor will call you this afternoon.",),
            weight=0.5,
        ),
    ),
    faq=(
        X(
            "C",
            ("How much is the holding deposit?",),
            (
                "One week's rent, and it comes off your first month's rent once the referencing is "
                "done.",
            ),
        ),
        X(
            "C",
            ("Do you do virtual viewings?",),
            ("Yes, we can do a live video walk-round if you can't make it in person.",),
        ),
        X(
            "A",
            ("Are you in a chain at all, or a first-time buyer?",),
            ("First-time buyer, mortgage agreed in principle.", "We're chain-free, renting now."),
        ),
        X(
            "C",
            ("Is the area quiet at night?",),
            (
                "It's a residential street, so generally quiet — but do come and see it in the evening.",
            ),
        ),
    ),
    card_ask=(
        "To hold the property while referencing goes through, there's a holding deposit of "
        "{cur}{deposit}. I can take that by card now if you like.",
    ),
    id_check={
        "uk": (
            X(
                "A",
                (
                    "For the referencing we'll need your National Insurance number — you can give it "
                    "now or on the form.",
                ),
                ("I have it here: {ni}.", "Sure, it's {ni}."),
            ),
        ),
        "us": (
            X(
                "A",
                (
                    "The application includes a credit check, so we'll need your Social Security "
                    "number and date of birth.",
                ),
                ("Okay, it's {ssn}, and my birthday is {dob}.",),
            ),
        ),
    },
    web_leads=(
        "Portal enquiry: 2-bed {flat}, budget {cur}{rent} {rent_period}.",
        "Requested valuation via website; prefers evening call.",
        "Landlord enquiry from website — portfolio of 3 properties.",
        "Registered for new-listing alerts, first-time buyer.",
    ),
    docs=(
        Doc(
            title="Fees for tenants and landlords",
            paragraphs=(
                "{business} is a member of a client money protection scheme and a property redress "
                "scheme. These are our fees.",
                "{price_list}",
                "Tenants: apart from rent, deposits, and a holding deposit of one week's rent, we do "
                "not charge tenants any fees.",
                "Deposits are registered with a government-approved deposit protection scheme within "
                "30 days of receipt.",
            ),
        ),
        Doc(
            title="Applying for a rental property",
            paragraphs=(
                "Found a home you love with {business}? Here is what happens next.",
                "1. Holding deposit: one week's rent reserves the property for up to 15 days while "
                "we reference you.",
                "2. Referencing: we check your identity, right to rent, employment or income, and "
                "previous landlord reference. Most references complete in three working days.",
                "3. Move-in: your tenancy agreement is signed online, and the first month's rent and "
                "the deposit (five weeks' rent) are due before keys are released.",
                "Questions? Call {business_phone} or email {email_business}.",
            ),
        ),
        Doc(
            title="Selling your home with us",
            paragraphs=(
                "At {business}, valuations are free and come with a written marketing plan.",
                "Our fixed fee covers professional photography, a floor plan, listing on every major "
                "property portal, accompanied viewings and sales progression. There is no fee if we "
                "don't sell.",
                "Our team includes {staff_list}. We are open {hours}",
            ),
            kinds=("agency",),
        ),
        Doc(
            title="Repairs and maintenance for tenants",
            paragraphs=(
                "Report repairs at any time through our virtual assistant on {business_phone}, or "
                "email {email_business} with photos.",
                "Emergencies (no heating in winter, a serious leak, no power, a security risk) are "
                "attended within 24 hours. Urgent repairs within 3 working days. Routine repairs "
                "within 14 days.",
                "If you smell gas, leave the property and call the gas emergency line first, then "
                "let us know.",
            ),
        ),
        Doc(
            title="Office hours and areas we cover",
            paragraphs=(
                "Our office is at {address}. We are open {hours}",
                "We cover {city} and the surrounding neighbourhoods. {parking}",
                "Viewings outside office hours can be arranged on request.",
            ),
        ),
    ),
    colours=("#1e3a8a", "#065f46", "#9a3412", "#334155", "#0f766e"),
)
