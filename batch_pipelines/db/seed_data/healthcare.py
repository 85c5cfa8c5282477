"""Healthcare: dental practices, physiotherapy clinics, private GP / family medicine clinics."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

VERTICAL = Vertical(
    name="healthcare",
    businesses=(
        ("BrightSmile Dental", "dental", "uk"),
        ("Northside Physio", "physio", "uk"),
        ("Riverside Family Clinic", "clinic", "us"),
        ("Oakwood Dental Care", "dental", "us"),
        ("Harbourview Physiotherapy", "physio", "uk"),
        ("Meadowbank Private GP", "clinic", "uk"),
        ("Willow Lane Dental", "dental", "uk"),
        ("Summit Sports Physio", "physio", "us"),
        ("Cedar Grove Family Medicine", "clinic", "us"),
        ("Parkside Dental Studio", "dental", "uk"),
        ("Kingsway Physio & Rehab", "physio", "uk"),
        ("Lakeshore Dental Group", "dental", "us"),
    ),
    kinds={
        "dental": Kind(
            noun="dental practice",
            services=(
                ("Check-up and scale & polish", 65),
                ("Hygienist appointment", 55),
                ("New patient exam with X-rays", 95),
                ("Emergency appointment", 85),
                ("Tooth whitening (home kit)", 295),
                ("White filling", 140),
            ),
            staff=("Dr {last}|dentist", "Dr {last}|dentist", "{first}|hygienist"),
            hours=(
                "Monday to Friday 8am to 6pm, late evenings until 8pm on Wednesdays, and Saturday "
                "mornings 9am to 1pm.",
                "Monday to Thursday 8:30am to 5:30pm and Friday 8:30am to 4pm. We are closed at "
                "weekends.",
            ),
        ),
        "physio": Kind(
            noun="physiotherapy clinic",
            services=(
                ("Initial assessment (45 min)", 70),
                ("Follow-up session (30 min)", 55),
                ("Sports massage (60 min)", 60),
                ("Shockwave therapy session", 90),
                ("Rehab Pilates class", 18),
            ),
            staff=(
                "{first}|physiotherapist",
                "{first}|sports physiotherapist",
                "{first}|rehab specialist",
            ),
            hours=(
                "Monday to Friday 7am to 8pm and Saturday 8am to 2pm.",
                "Weekdays 8am to 7pm, with early 7am appointments on Tuesdays and Thursdays.",
            ),
        ),
        "clinic": Kind(
            noun="clinic",
            services=(
                ("Same-day GP appointment", 89),
                ("Annual health check", 180),
                ("Flu vaccination", 20),
                ("Travel vaccination consultation", 45),
                ("Video consultation", 65),
            ),
            staff=("Dr {last}|GP", "Dr {last}|GP", "Nurse {first}|practice nurse"),
            hours=(
                "Monday to Friday 8am to 7pm and Saturday 9am to 12pm. Video appointments run until "
                "9pm on weekdays.",
                "Seven days a week, 8am to 8pm, including bank holidays.",
            ),
        ),
    },
    agent_roles=("Reception", "New patients", "After-hours line"),
    scenarios=(
        Scenario(
            key="dental_checkup",
            kinds=("dental",),
            service="Check-up",
            opener=(
                "Hi, I'd like to book a check-up and clean, please. It's been over a year, I'm "
                "embarrassed to say.",
                "Hello, I'm due a check-up and a scale and polish. Have you got anything next week?",
                "Hi, my dentist reminder came through — can I book a check-up and a clean?",
            ),
            core=(
                X(
                    "A",
                    ("Of course. Are you an existing patient with us?",),
                    (
                        "Yes, I've been coming for a few years. I usually see {staff}.",
                        "Yes, but I haven't been since before I moved house.",
                    ),
                ),
                X(
                    "A",
                    (
                        "{staff} has a slot on {day} at {time}, or {day2} at {time2}. Would either "
                        "of those work?",
                        "The first one I have is {day} at {time}. Does that suit?",
                    ),
                    (
                        "{day} at {time} is perfect.",
                        "{day} is good — {time} fits around the school run.",
                    ),
                ),
                X(
                    "A",
                    (
                        "That's booked. A check-up with scale and polish is {cur}{price}, payable on "
                        "the day.",
                        "Great, I've put you in. The check-up and clean together come to {cur}{price}.",
                    ),
                    (
                        "That's fine. Do I need to bring anything?",
                        "Okay. Will I get a reminder? I'm terrible with dates.",
                    ),
                ),
                X(
                    "A",
                    (
                        "We'll text you a reminder two days before — and just bring a list of any "
                        "medication you're on.",
                        "You'll get a text reminder 48 hours before, and the medical history form by "
                        "email. Just bring a list of any medication you take.",
                    ),
                    ("Brilliant.", "Perfect, that helps."),
                ),
            ),
            extras=(
                X(
                    "C",
                    (
                        "I've been getting a bit of sensitivity on my upper left side. Should I mention it?",
                    ),
                    (
                        "Definitely mention it to {staff} on the day, they'll have a proper look. If it "
                        "turns into actual pain before then, call us and we'll see you sooner.",
                    ),
                ),
                X(
                    "C",
                    ("Do you do whitening as well? My sister had it done somewhere else.",),
                    (
                        "We do — the home whitening kit is {cur}295 including the custom trays. "
                        "{staff} can talk you through it at your check-up.",
                    ),
                ),
            ),
            confirm=(
                "So that's a check-up and scale and polish with {staff} on {day} at {time}.",
                "You're all set for {day} at {time} with {staff}.",
            ),
            notes=(
                "Overdue check-up (12+ months). Mentioned sensitivity upper left.",
                "Interested in whitening — raise at check-up.",
                "Prefers afternoon appointments.",
            ),
        ),
        Scenario(
            key="dental_emergency",
            kinds=("dental",),
            service="Emergency",
            opener=(
                "Hi, I've cracked a tooth on a bit of toast this morning and it's really painful. "
                "Can someone see me today?",
                "Hello, I've had awful toothache since last night, I can't sleep. Do you have any "
                "emergency appointments?",
            ),
            core=(
                X(
                    "A",
                    (
                        "I'm sorry to hear that. On a scale of one to ten, how bad is the pain, and is "
                        "there any swelling in your face?",
                    ),
                    (
                        "About an eight. No swelling that I can see, but it throbs when I drink "
                        "anything cold.",
                        "It's like a seven, and my cheek looks a bit puffy this morning.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Okay. We keep emergency slots every day — I can get you in at {time} today "
                        "with {staff}. The emergency appointment is {cur}{price}, and any treatment "
                        "is quoted separately.",
                    ),
                    ("Yes please, I'll take it.", "That's fine, I just want it sorted."),
                ),
                X(
                    "A",
                    (
                        "In the meantime, take painkillers as directed on the pack and avoid very hot "
                        "or cold drinks. If the swelling spreads or you struggle to swallow, go to "
                        "A&E or call 111.",
                        "Until then, regular painkillers should help. If the swelling gets worse or you "
                        "get a temperature, please seek urgent care straight away.",
                    ),
                    ("Okay, will do.", "Thank you, that's reassuring."),
                ),
            ),
            confirm=("I've booked you in today at {time} with {staff}.",),
            notes=(
                "Emergency — cracked molar, pain 8/10. Seen same day.",
                "Possible abscess, mild swelling. Same-day emergency slot.",
            ),
        ),
        Scenario(
            key="physio_booking",
            kinds=("physio",),
            service="Initial assessment",
            opener=(
                "Hi, I'd like to book a physio appointment. I've hurt my knee running and it's not "
                "getting better.",
                "Hello, I've had lower back pain for about three weeks and my {gp} suggested physio. "
                "Can I book in?",
                "Hi, I think I've strained my shoulder at the gym. Do you have any appointments this "
                "week?",
            ),
            core=(
                X(
                    "A",
                    (
                        "Sorry to hear that. Have you been to us before, or would this be a new "
                        "injury assessment?",
                    ),
                    (
                        "First time with you.",
                        "I came a couple of years ago for my ankle, but this is new.",
                    ),
                ),
                X(
                    "A",
                    (
                        "For a new problem we start with a 45-minute initial assessment, which is "
                        "{cur}{price}. {staff} has {day} at {time} or {day2} at {time2}.",
                    ),
                    ("{day} at {time} works.", "The {day} one, please. {time} is fine."),
                ),
                X(
                    "A",
                    ("Are you claiming through health insurance at all?",),
                    (
                        "Yes, I'm with {insurer}. I've got an authorisation code somewhere.",
                        "No, I'll pay myself.",
                    ),
                ),
                X(
                    "A",
                    (
                        "No problem. Please wear shorts or loose clothing so {staff} can look at the "
                        "movement properly.",
                        "Great. Wear something comfortable you can move in — you'll be doing a few "
                        "exercises.",
                    ),
                    ("Will do.", "Okay, good to know."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Should I keep running in the meantime or rest it?",),
                    (
                        "I can't give clinical advice over the phone, but gentle movement within "
                        "comfort is usually fine — {staff} will give you a proper plan at the "
                        "assessment.",
                    ),
                ),
                X(
                    "C",
                    ("How many sessions do people usually need?",),
                    (
                        "It really varies. Most people have three to five sessions, but {staff} will "
                        "tell you after the assessment.",
                    ),
                ),
                X(
                    "C",
                    ("Do you need a referral from my doctor?",),
                    (
                        "Not for self-paying patients. Some insurers ask for one, so it's worth "
                        "checking with {insurer}.",
                    ),
                ),
            ),
            confirm=("So that's your initial assessment with {staff} on {day} at {time}.",),
            notes=(
                "Runner's knee, 3 weeks. Insured via {insurer}.",
                "Lower back pain, GP referral. Self-pay.",
                "Shoulder strain from gym. Wants early morning slots.",
            ),
        ),
        Scenario(
            key="clinic_appointment",
            kinds=("clinic",),
            service="Same-day",
            opener=(
                "Hi, I've had a chest infection for about a week and it's not clearing. Can I see "
                "a doctor today?",
                "Hello, my daughter's had a temperature since yesterday and a rash. Do you have "
                "anything today?",
                "Hi, I need an appointment about my blood pressure — my home readings have been high.",
            ),
            core=(
                X(
                    "A",
                    (
                        "I'm sorry you're unwell. Just to check first — any difficulty breathing, "
                        "chest pain, or a rash that doesn't fade under a glass?",
                    ),
                    ("No, nothing like that.", "No, it's more just tired and achy."),
                ),
                X(
                    "A",
                    (
                        "Okay. {staff} has a same-day appointment at {time}. It's {cur}{price} for a "
                        "15-minute consultation.",
                        "I can offer {time} today with {staff}, either in person or by video. "
                        "Consultations are {cur}{price}.",
                    ),
                    ("In person please, {time} is fine.", "Video would be easier, if that's okay."),
                ),
                X(
                    "A",
                    ("Are you registered with us already?",),
                    ("Yes, I came in last winter.", "No, this would be my first time."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Can the doctor do a prescription on the day?",),
                    (
                        "Yes, if {staff} thinks you need one it can be sent electronically to the "
                        "pharmacy of your choice.",
                    ),
                ),
                X(
                    "C",
                    ("Will you send notes to my regular doctor?",),
                    ("With your consent, yes — we send a consultation summary the same day.",),
                ),
            ),
            confirm=("That's {time} today with {staff}.",),
            notes=(
                "Persistent chest infection, 1 week. Same-day slot.",
                "Child with fever and rash — triaged, no red flags.",
                "High home BP readings. Book follow-up with nurse.",
            ),
        ),
        Scenario(
            key="reschedule",
            kinds=(),
            lead=False,
            opener=(
                "Hi, I've got an appointment on {day} but something's come up at work. Can I move it?",
                "Hello, I need to rearrange my appointment, please.",
            ),
            core=(
                X(
                    "A",
                    ("Of course. Can I take your name and date of birth to find the booking?",),
                    ("It's {full}, {dob}.",),
                ),
                X(
                    "A",
                    (
                        "Thanks, {first}. I can see you with {staff} on {day} at {time}. I can move you "
                        "to {day2} at {time2}, or the following week.",
                    ),
                    (
                        "{day2} at {time2} is great.",
                        "Next week would be better actually, same time.",
                    ),
                ),
                X(
                    "A",
                    (
                        "Done. As it's more than {cancel_hours} hours' notice there's no charge.",
                        "That's moved for you — and because you've given us {cancel_hours} hours' "
                        "notice, there's no fee.",
                    ),
                    ("Oh good, thanks.", "Great, sorry for the hassle."),
                ),
            ),
            contact=False,
            confirm=("You'll get a new confirmation text shortly.",),
            weight=0.6,
        ),
        Scenario(
            key="hours_and_payment",
            kinds=(),
            lead=False,
            contact=False,
            opener=(
                "Hi, quick question before I book an appointment — are you open on Saturdays?",
                "Hello, what are your opening hours? I'm thinking of booking an appointment.",
            ),
            core=(
                X(
                    "A",
                    ("Of course. {hours}",),
                    ("Okay, that's helpful.", "Right, thanks."),
                ),
                X(
                    "C",
                    (
                        "And can I pay by card?",
                        "Do you take card payments for treatment, and do you do payment plans?",
                    ),
                    (
                        "Yes, all major cards, Apple Pay and Google Pay. For treatment over {cur}500 "
                        "we also offer interest-free payment plans.",
                    ),
                ),
            ),
            weight=0.4,
        ),
    ),
    faq=(
        X(
            "C",
            ("Is there parking near you?",),
            (
                "There's a pay-and-display {car_park} right behind us, and two disabled bays at the "
                "front.",
                "Yes, there's free parking for patients — just give your registration at reception.",
            ),
        ),
        X(
            "C",
            ("Is the building wheelchair accessible?",),
            ("Yes, everything is on the ground floor and we have an accessible toilet.",),
        ),
        X(
            "C",
            ("How early should I arrive?",),
            ("About ten minutes early, so there's time to check your details.",),
        ),
        X(
            "C",
            ("What happens if I need to cancel?",),
            (
                "We just ask for {cancel_hours} hours' notice, otherwise there's a {cur}{late_fee} "
                "charge.",
            ),
        ),
        X(
            "A",
            ("Do you have any allergies or medical conditions we should note?",),
            (
                "I'm allergic to penicillin.",
                "I've got mild asthma, that's all.",
                "No, nothing.",
            ),
        ),
    ),
    card_ask=(
        "For new patients we take a {cur}{deposit} deposit to secure the slot, which comes off the "
        "bill on the day. Can I take a card?",
        "To hold the appointment I'll need a card on file — you're only charged if you miss it "
        "without {cancel_hours} hours' notice.",
    ),
    id_check={
        "uk": (
            X(
                "A",
                ("For your records, do you have your NHS number handy?",),
                ("Yes, it's {nhs}.", "I think so — {nhs}."),
            ),
            X(
                "A",
                ("Can I confirm your date of birth for the record?",),
                ("It's {dob}.",),
            ),
        ),
        "us": (
            X(
                "A",
                ("Could I get your date of birth and the member ID on your insurance card?",),
                ("Sure, {dob}, and the member ID is {member_id}.",),
            ),
            X(
                "C",
                ("The portal asked for my social, it's {ssn} — do you need that too?",),
                (
                    "No need to give that over the phone, but thank you. Your date of birth and "
                    "member ID are all we need.",
                ),
            ),
        ),
    },
    web_leads=(
        "Web form: asked about Invisalign pricing and finance.",
        "Web form: new patient, wants Saturday appointments.",
        "Referral from {insurer}; awaiting authorisation code.",
        "Instagram enquiry about whitening offer.",
    ),
    docs=(
        Doc(
            title="New patient FAQ",
            paragraphs=(
                "Welcome to {business}. We are a friendly {noun} at {address}. This page answers "
                "the questions new patients ask us most often.",
                "How do I register? Call us on {business_phone}, book online at {website}, or ask "
                "our virtual receptionist at any time. We will email you a short medical history "
                "form to complete before your first visit.",
                "What should I bring? A list of any medication you take, your insurance details if "
                "you are claiming, and your glasses if you need them to read forms.",
                "How long is the first appointment? Allow about an hour for your first visit. Please "
                "arrive ten minutes early so we can check your details.",
                "Who will I see? Our team includes {staff_list}. You can ask for a particular "
                "clinician when you book.",
            ),
        ),
        Doc(
            title="Fees and price list",
            paragraphs=(
                "Our current prices. All prices include VAT where it applies. Payment is due on the "
                "day of your appointment.",
                "{price_list}",
                "We accept all major debit and credit cards, Apple Pay and Google Pay. Treatment "
                "plans over {cur}500 can be spread over up to twelve months interest-free, subject "
                "to approval.",
                "If you are claiming through health insurance, please check your cover with your "
                "insurer before your appointment. We are registered with most major insurers, "
                "including {insurer}.",
            ),
        ),
        Doc(
            title="Cancellation and missed appointment policy",
            paragraphs=(
                "We hold appointments especially for you, so we ask for at least {cancel_hours} "
                "hours' notice if you need to cancel or move one.",
                "Appointments cancelled with less notice, or missed, are charged {cur}{late_fee}. "
                "We waive this once for every patient, and always in a genuine emergency.",
                "New patients pay a {cur}{deposit} deposit when booking, which is deducted from the "
                "bill on the day. The deposit is refunded in full if you cancel with enough notice.",
                "To cancel, call {business_phone}, reply CANCEL to your reminder text, or email "
                "{email_business}.",
            ),
        ),
        Doc(
            title="Opening hours, location and accessibility",
            paragraphs=(
                "Opening hours: {hours}",
                "You will find us at {address}. {parking}",
                "The practice is fully accessible: step-free entrance, ground-floor treatment rooms "
                "and an accessible toilet. Hearing loops are available at reception.",
                "Out of hours: if you have a medical emergency, call 999 (or 911 in the US). For "
                "urgent advice when we are closed, our virtual receptionist can take a message and "
                "the on-call clinician will call you back the next morning.",
            ),
        ),
        Doc(
            title="Privacy and your health records",
            paragraphs=(
                "{business} keeps your health records securely and only shares them with your "
                "consent or where the law requires it.",
                "Calls to our reception may be recorded and transcribed for quality and training. "
                "Transcripts are kept for 90 days and then deleted. Card numbers read out on a call "
                "are never stored in our systems.",
                "You can ask for a copy of your records at any time by emailing {email_business}. "
                "We will respond within 30 days.",
            ),
        ),
    ),
    colours=("#0ea5e9", "#14b8a6", "#2563eb", "#0f766e", "#4f46e5"),
)
