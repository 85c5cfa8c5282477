"""Sales teams: solar installers, B2B software, EV charger installers."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

VERTICAL = Vertical(
    name="sales",
    businesses=(
        ("Apex Solar Sales", "solar", "uk"),
        ("Brightline CRM", "software", "us"),
        ("Wattway EV Charging", "ev", "uk"),
        ("SunPeak Solar", "solar", "us"),
        ("Ledgerly", "software", "uk"),
        ("VoltNest Home Charging", "ev", "us"),
        ("Clearwave Solar", "solar", "uk"),
        ("Fleetpath Telematics", "software", "us"),
        ("Greenroof Energy", "solar", "uk"),
        ("Quillstack Payroll", "software", "uk"),
        ("ChargeRight EV", "ev", "uk"),
        ("Solstice Power Co", "solar", "us"),
    ),
    kinds={
        "solar": Kind(
            noun="solar installer",
            services=(
                ("4 kW solar panel system", 6500),
                ("6 kW system with 5 kWh battery", 11500),
                ("Battery add-on (5 kWh)", 3200),
                ("Annual system health check", 120),
                ("Free home survey", 0),
            ),
            staff=("{first}|energy adviser", "{first}|senior energy adviser", "{first}|surveyor"),
            hours=(
                "Monday to Friday 8am to 8pm and Saturday 9am to 4pm.",
                "Monday to Saturday 9am to 6pm.",
            ),
        ),
        "software": Kind(
            noun="software company",
            services=(
                ("Starter plan, per seat per month", 29),
                ("Pro plan, per seat per month", 59),
                ("Enterprise plan, per seat per month", 99),
                ("Onboarding and data migration package", 1500),
            ),
            staff=(
                "{first}|account executive",
                "{first}|solutions engineer",
                "{first}|customer success manager",
            ),
            hours=(
                "Monday to Friday 8am to 6pm.",
                "Monday to Friday 9am to 7pm, with 24/7 support.",
            ),
        ),
        "ev": Kind(
            noun="EV charger installer",
            services=(
                ("7 kW home charger, installed", 999),
                ("22 kW three-phase charger, installed", 1850),
                ("Workplace charger, per charge point", 1400),
                ("Cable run over 15 metres, per metre", 25),
            ),
            staff=("{first}|installation lead", "{first}|EV adviser", "{first}|electrician"),
            hours=("Monday to Friday 8am to 6pm and Saturday 9am to 1pm.",),
        ),
    },
    agent_roles=("Inbound sales", "Follow-up caller", "Renewals"),
    scenarios=(
        Scenario(
            key="solar_quote",
            kinds=("solar",),
            service="4 kW",
            sensitive=("card", "id"),
            opener=(
                "Hi, I'm interested in getting a quote for solar panels. Our electricity bills have "
                "gone through the roof.",
                "Hello, I saw your advert — how much would solar panels with a battery cost for a "
                "three-bed semi?",
                "Hi, we're thinking about solar. Can someone come out and give us a quote?",
            ),
            core=(
                X(
                    "A",
                    (
                        "Happy to help. Roughly what's your monthly electricity bill at the moment?",
                        "Great. Can I ask which way your roof faces, and roughly how much you spend on "
                        "electricity each month?",
                    ),
                    (
                        "About {cur}180 a month in winter. The back of the roof faces south-west.",
                        "Around {cur}140, a bit more with the heat pump. I think the roof is "
                        "south-facing.",
                    ),
                ),
                X(
                    "A",
                    (
                        "That's a good fit for solar. A typical 4 kW system starts from {cur}{price} "
                        "installed, and with a battery you'd use most of what you generate.",
                    ),
                    (
                        "Okay. How long before it pays for itself?",
                        "Right. Do you do finance?",
                    ),
                ),
                X(
                    "A",
                    (
                        "For a house like yours it's usually seven to nine years, and the panels are "
                        "warrantied for twenty-five. We also offer finance over five or ten years.",
                    ),
                    ("That sounds reasonable.", "Interesting. I'd want to see the numbers."),
                ),
                X(
                    "A",
                    (
                        "The next step is a free survey — {staff} can come out on {day} at {time} "
                        "and measure up. It takes about an hour.",
                    ),
                    ("{day} works for me.", "{day} is good, I'm working from home that day."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Do I need planning permission?",),
                    (
                        "For most houses, no — it falls under permitted development. If you're in a "
                        "conservation area, {staff} will check at the survey.",
                    ),
                ),
                X(
                    "C",
                    ("What happens with the power I don't use?",),
                    (
                        "You can sell it back to the grid through an export tariff, or store it in "
                        "the battery for the evening.",
                    ),
                ),
                X(
                    "A",
                    ("Do you have an electric car, or are you planning one?",),
                    (
                        "We're getting one next year, actually.",
                        "No, not yet.",
                    ),
                ),
            ),
            confirm=(
                "So I've booked your free home survey with {staff} on {day} at {time}, and you'll get "
                "the quote within two days of that.",
            ),
            notes=(
                "South-west roof, bills ~{cur}180/mo. Wants battery. Survey booked.",
                "Interested in finance over 10 years.",
                "EV planned next year — mention charger bundle.",
            ),
        ),
        Scenario(
            key="software_demo",
            kinds=("software",),
            sensitive=(),
            service="Pro plan",
            opener=(
                "Hi, I filled in the form on your website. We're looking at replacing our CRM and "
                "I'd like a demo.",
                "Hello, I run operations at a 40-person company and we're outgrowing spreadsheets. "
                "Could someone walk me through the product?",
            ),
            core=(
                X(
                    "A",
                    (
                        "Thanks for reaching out! What are you using today, and what's prompting the "
                        "change?",
                    ),
                    (
                        "We're on a legacy tool and the reporting is painful. Our sales director wants "
                        "pipeline forecasting.",
                        "Honestly, spreadsheets and a shared inbox. Things are falling through the cracks.",
                    ),
                ),
                X(
                    "A",
                    ("How many people would be using it?",),
                    (
                        "About twenty-five to start, maybe forty by next year.",
                        "Twelve in sales, plus a few in finance.",
                    ),
                ),
                X(
                    "A",
                    (
                        "At that size most teams go with the Pro plan, which is {cur}{price} per seat "
                        "per month billed annually, including forecasting and integrations.",
                    ),
                    (
                        "Okay, that's in the right range. Is there a trial?",
                        "Hmm, that's a bit more than we budgeted. Are there discounts?",
                    ),
                ),
                X(
                    "A",
                    (
                        "There's a 14-day trial, and for annual contracts over twenty seats we can "
                        "usually do something on price. {staff} can run a tailored demo on {day} at "
                        "{time} — would that work?",
                    ),
                    (
                        "Yes, {day} at {time} is good.",
                        "{day} works — I'll bring our sales director.",
                    ),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Does it integrate with Outlook and our accounting software?",),
                    (
                        "Yes — two-way email and calendar sync, plus native integrations with the "
                        "main accounting packages.",
                    ),
                ),
                X(
                    "C",
                    ("Where is the data hosted? We have to be careful about that.",),
                    (
                        "You can choose EU or US hosting, and we're SOC 2 Type II certified. I'll send "
                        "the security pack over with the invite.",
                    ),
                ),
                X(
                    "A",
                    ("Who else would be involved in the decision?",),
                    (
                        "Our sales director and probably finance.",
                        "It's mainly me, but the MD signs off anything over ten grand.",
                    ),
                ),
            ),
            confirm=(
                "I'll send a calendar invite for the demo with {staff} on {day} at {time}, plus our "
                "security pack.",
            ),
            notes=(
                "25 seats now, 40 next year. Needs forecasting + Outlook sync. Demo booked.",
                "Budget-sensitive; discuss annual discount.",
                "Asked about EU data hosting — send security pack.",
            ),
        ),
        Scenario(
            key="ev_install",
            kinds=("ev",),
            service="7 kW",
            opener=(
                "Hi, I'm picking up an electric car next month and need a home charger fitted.",
                "Hello, how much is it to have a charger put in on the driveway?",
            ),
            core=(
                X(
                    "A",
                    (
                        "Congratulations on the new car! Do you have off-street parking, like a "
                        "driveway or garage?",
                    ),
                    (
                        "Yes, a driveway right next to the house.",
                        "There's a garage, but the fuse box is on the other side of the house.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Perfect. Our standard 7 kW charger is {cur}{price} fully installed, which "
                        "covers up to fifteen metres of cable.",
                    ),
                    (
                        "That's fine. How long does the install take?",
                        "Okay. Does that include the electrical check?",
                    ),
                ),
                X(
                    "A",
                    (
                        "It's usually half a day, and the electrician checks your fuse board first. "
                        "We'll need a few photos of the fuse board and where you want the charger.",
                    ),
                    ("I can send those tonight.", "Sure, where do I send them?"),
                ),
                X(
                    "A",
                    (
                        "{staff} has an install slot on {day} — shall I pencil that in pending the photos?",
                    ),
                    ("Yes please.", "Let's do that."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Can it charge on the cheap overnight tariff?",),
                    (
                        "Yes — the app lets you schedule charging, so it only runs during off-peak hours.",
                    ),
                ),
                X(
                    "C",
                    ("What car models does it work with?",),
                    ("Any car with a Type 2 socket, which is nearly all of them now.",),
                ),
            ),
            confirm=("Your install is pencilled in for {day}, pending the photos.",),
            notes=(
                "New EV next month. Driveway, short cable run. Photos to follow.",
                "Garage install, long cable run — may need surcharge.",
            ),
        ),
        Scenario(
            key="quote_follow_up_price",
            kinds=(),
            outbound=True,
            opener=(
                "Hi, is that {first}? It's {agent} calling from {business} about the quote we sent "
                "over last week. Is now a good time?",
                "Hello, may I speak to {first}? This is {agent} from {business}, following up on "
                "your quote.",
            ),
            core=(
                X(
                    "C",
                    (
                        "Oh yes, hi. I've had a look. It's a bit more than I expected, to be honest.",
                    ),
                    ("I understand. Can I ask what you're comparing it with?",),
                ),
                X(
                    "C",
                    ("We got another quote that was about ten percent cheaper.",),
                    (
                        "That's fair. Ours includes the extended warranty and aftercare, which a lot "
                        "of cheaper quotes leave out. I can ask my manager about the price if we "
                        "could confirm this month.",
                    ),
                ),
                X(
                    "C",
                    ("Okay, send me something in writing and I'll talk it over at home.",),
                    ("Of course. I'll email a revised quote today.",),
                ),
            ),
            confirm=(
                "I'll send the revised quote over this afternoon and call you {day} to follow up.",
            ),
            notes=(
                "Competitor quote ~10% cheaper. Revised quote promised.",
                "Price objection — manager approval for discount pending.",
            ),
            weight=0.5,
        ),
        Scenario(
            key="quote_follow_up_timing",
            kinds=(),
            outbound=True,
            opener=(
                "Hi, is that {first}? It's {agent} from {business}, just following up on your "
                "enquiry. Have you had a chance to look at the quote?",
            ),
            core=(
                X(
                    "C",
                    ("Yes, speaking. I've been meaning to get back to you. It looks good.",),
                    ("Great to hear! Did you have any questions about it?",),
                ),
                X(
                    "C",
                    ("Mainly the timeline — when could you actually start?",),
                    ("We could start as early as {day} week. {staff} would be your main contact.",),
                ),
                X(
                    "C",
                    ("That works. What do I need to do to go ahead?",),
                    (
                        "I'll email the agreement to sign online, and {staff} will book in the start date.",
                    ),
                ),
            ),
            confirm=("I'll send the agreement this afternoon and {staff} will call you {day}.",),
            notes=(
                "Ready to go; wants start date confirmed in writing.",
                "Verbal yes — agreement sent for e-signature.",
            ),
            weight=0.5,
        ),
        Scenario(
            key="opt_out",
            faq=False,
            kinds=(),
            outbound=True,
            lead=False,
            contact=False,
            opener=(
                "Hi, is that {first}? It's {agent} from {business} — you asked about a quote.",
            ),
            core=(
                X(
                    "C",
                    (
                        "Sorry, I'm not interested any more. Please take me off your list.",
                        "We've gone with someone else, thanks. Can you stop calling?",
                    ),
                    (
                        "Of course, I'm sorry to bother you. I've removed your number and email from "
                        "our marketing list now.",
                    ),
                ),
                X(
                    "C",
                    ("Thanks. Will I still get emails?",),
                    ("No, nothing more from us, unless you get in touch again.",),
                ),
            ),
            weight=0.3,
        ),
    ),
    faq=(
        X(
            "C",
            ("Are you a local company?",),
            ("We're based in {city} and cover about fifty miles around it.",),
        ),
        X(
            "C",
            ("Do you have reviews I can look at?",),
            ("Yes, there are over three hundred reviews on our website, {website}.",),
        ),
        X(
            "C",
            ("Is there a contract or can I cancel any time?",),
            (
                "There's no long contract on our side — you get a fourteen-day cooling-off period "
                "after signing, too.",
            ),
        ),
        X(
            "A",
            ("How did you hear about us, if you don't mind me asking?",),
            ("A neighbour recommended you.", "I saw an ad online.", "Google, I think."),
        ),
    ),
    card_ask=(
        "To lock in this month's price we take a refundable {cur}{deposit} deposit. Would you like to "
        "do that now by card?",
    ),
    id_check={
        "uk": (
            X(
                "A",
                ("For the finance pre-check I'd need your date of birth and postcode.",),
                ("{dob}, and it's {postcode_value}.",),
            ),
        ),
        "us": (
            X(
                "A",
                ("For the financing pre-qualification I'll need your date of birth.",),
                ("Sure, it's {dob}.",),
            ),
            X(
                "C",
                ("Do you need my social security number for the credit check? It's {ssn}.",),
                (
                    "Thanks, but please don't read that out — the finance partner will collect it "
                    "securely online.",
                ),
            ),
        ),
    },
    web_leads=(
        "Web form: requested pricing sheet for 20+ seats.",
        "Downloaded the buyer's guide; no call yet.",
        "Web chat: asked about battery storage and finance.",
        "Referral from existing customer ({first} at a partner firm).",
    ),
    docs=(
        Doc(
            title="Pricing and packages",
            paragraphs=(
                "{business} keeps pricing simple. These are our standard prices; a written quote "
                "always confirms the exact figure before you commit.",
                "{price_list}",
                "Quotes are valid for thirty days. We price-match any like-for-like written quote "
                "from an accredited competitor.",
                "Payment: a {cur}{deposit} refundable deposit secures your price, the balance is due "
                "on completion. Finance is available over 12 to 120 months, subject to status.",
            ),
        ),
        Doc(
            title="Sales FAQ",
            paragraphs=(
                "How quickly can you start? Most customers are up and running within two to four "
                "weeks of accepting a quote.",
                "Who will I deal with? Your adviser stays with you from first call to handover. Our "
                "team includes {staff_list}.",
                "Can I cancel? Yes. You have a fourteen-day cooling-off period after signing, and the "
                "deposit is refunded in full if you cancel within it.",
                "Where do you work? We are based in {city} and cover the surrounding area.",
            ),
        ),
        Doc(
            title="Warranty and aftercare",
            paragraphs=(
                "Everything we install or sell comes with our workmanship guarantee, on top of the "
                "manufacturer's warranty.",
                "If something goes wrong, call {business_phone} or email {email_business}. We aim to "
                "respond within one working day and to fix faults within five.",
                "Annual check-ups are optional but recommended; they keep the warranty simple to "
                "claim and catch small problems early.",
            ),
        ),
        Doc(
            title="Contact preferences and marketing",
            paragraphs=(
                "We only call people who have asked us to, and we stop whenever you ask.",
                "To unsubscribe from emails, use the link at the bottom of any email or visit "
                "{website}/unsubscribe. To stop calls, tell any member of the team or our virtual "
                "assistant; it takes effect immediately.",
                "We never sell your details. Call recordings are kept for 90 days for training and "
                "then deleted.",
            ),
        ),
    ),
    colours=("#f59e0b", "#16a34a", "#7c3aed", "#ea580c", "#0284c7"),
)
