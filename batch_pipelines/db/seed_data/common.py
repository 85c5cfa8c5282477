"""Pools every vertical shares: people, places, greetings, contact capture, goodbyes.

Phone numbers are in ranges reserved for fiction (Ofcom's 0117 496 0xxx / 07700 900xxx drama
numbers, the North American 555-01xx block); card numbers are the networks' published test numbers;
NHS numbers use the 999 test range; National Insurance numbers the never-issued QQ prefix; SSN-like
numbers the 9xx area with group 00-49 (neither SSNs nor ITINs). Domains of businesses are `.example`.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Olivia", "Amir", "Chloe", "Daniel", "Priya", "Marcus", "Sofia", "Tom", "Aisha", "Ben",
    "Grace", "Kwame", "Hannah", "Luis", "Mei", "Oliver", "Fatima", "Jack", "Elena", "Ryan",
    "Zoe", "Ibrahim", "Lucy", "Noah", "Sinead", "Raj", "Emily", "Diego", "Hana", "Callum",
    "Maria", "Joshua", "Yusuf", "Isla", "Ethan", "Leah", "Arjun", "Megan", "Tariq", "Ruth",
    "Connor", "Amara", "Pete", "Niamh", "Samuel", "Jasmine", "Kenji", "Rosa",
)  # fmt: skip

LAST_NAMES = (
    "Patel", "O'Connor", "Nguyen", "Smith", "Okafor", "Garcia", "Williams", "Khan", "Murphy",
    "Chen", "Jones", "Kowalski", "Ali", "Brown", "Rossi", "Taylor", "Adeyemi", "Hughes",
    "Fernandez", "Walsh", "Singh", "Evans", "Kim", "Davies", "Novak", "Lopez", "Campbell",
    "Ahmed", "Reid", "Johnson", "Mensah", "Clarke", "Silva", "Wright", "Haddad", "Baker",
    "Lewis", "Morgan", "Cohen", "Osei", "Fitzgerald", "Yamamoto",
)  # fmt: skip

# AI receptionist personas (the agents' display names).
AGENT_PERSONAS = (
    "Ava", "Leo", "Maya", "Sam", "Nora", "Eli", "Iris", "Theo", "Zara", "Finn", "Lena", "Omar",
    "Ruby", "Jonah", "Esme", "Kai",
)  # fmt: skip

EMAIL_DOMAINS = {
    "uk": (
        "gmail.com",
        "outlook.com",
        "hotmail.co.uk",
        "yahoo.co.uk",
        "icloud.com",
        "btinternet.com",
    ),
    "us": ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "aol.com", "proton.me"),
}

# (city, phone prefix of a number range reserved for drama, postcode prefix, UTC offset in hours)
CITIES = {
    "uk": (
        ("Bristol", "0117 496 0", "BS", 0),
        ("Manchester", "0161 496 0", "M", 0),
        ("Leeds", "0113 496 0", "LS", 0),
        ("London", "020 7946 0", "SE", 0),
        ("Edinburgh", "0131 496 0", "EH", 0),
        ("Cardiff", "029 2018 0", "CF", 0),
        ("Birmingham", "0121 496 0", "B", 0),
        ("Glasgow", "0141 496 0", "G", 0),
    ),
    "us": (
        ("Austin, TX", "512", "787", -6),
        ("Denver, CO", "303", "802", -7),
        ("Portland, OR", "503", "972", -8),
        ("Chicago, IL", "312", "606", -6),
        ("Boston, MA", "617", "021", -5),
        ("San Diego, CA", "619", "921", -8),
        ("Raleigh, NC", "919", "276", -5),
    ),
}

STREETS = {
    "uk": (
        "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane",
        "Queen Street", "Kingsway", "Albert Road", "Whiteladies Road", "Market Place", "Bridge Street",
    ),
    "us": (
        "Main Street", "Oak Avenue", "Maple Drive", "Elm Street", "Congress Avenue", "Pine Street",
        "Lakeview Drive", "Washington Avenue", "Cedar Lane", "Broadway", "Hillcrest Road",
    ),
}  # fmt: skip

# Branch names, used once a vertical's business names are used up (large seeds).
BRANCHES = {
    "uk": (
        "Clifton", "Headingley", "Didsbury", "Islington", "Leith", "Pontcanna", "Harborne",
        "Southville", "Chorlton", "Hyde Park", "Stockbridge", "Roath", "Moseley", "Finsbury",
        "Redland", "Ancoats", "Brixton", "Morningside", "Kings Heath", "Partick", "Bedminster",
        "Roundhay", "Canton", "Shawlands",
    ),
    "us": (
        "Midtown", "Oak Park", "Eastside", "Riverside", "Uptown", "Hillcrest", "Lakeview",
        "South Congress", "Highlands", "Pearl District", "Back Bay", "North Park", "Capitol Hill",
        "Wicker Park", "Cherry Creek", "Mueller", "Hyde Park", "Old Town", "Five Points",
        "Somerville", "La Jolla", "Cameron Village", "Alberta Arts", "Zilker",
    ),
}  # fmt: skip

# Words that differ by region, available to every template.
LEXICON = {
    "uk": {
        "cur": "£",
        "flat": "flat",
        "a_flat": "a flat",
        "mobile": "mobile",
        "postcode": "postcode",
        "boiler": "boiler",
        "holiday": "holiday",
        "car_park": "car park",
        "gp": "GP",
        "fortnight": "fortnight",
        "cheers": "cheers",
        "rent_period": "a month",
        "garden": "garden",
    },
    "us": {
        "cur": "$",
        "flat": "apartment",
        "a_flat": "an apartment",
        "mobile": "cell",
        "postcode": "ZIP code",
        "boiler": "boiler",
        "holiday": "vacation",
        "car_park": "parking lot",
        "gp": "primary care doctor",
        "fortnight": "couple of weeks",
        "cheers": "thanks",
        "rent_period": "a month",
        "garden": "yard",
    },
}

INSURERS = {
    "uk": ("Bupa", "AXA Health", "Vitality", "Aviva"),
    "us": ("Aetna", "Blue Cross", "Cigna", "UnitedHealthcare"),
}

# Spelling for US tenants, applied to everything rendered for them.
US_SPELLING = (
    ("colour", "color"),
    ("Colour", "Color"),
    ("favourite", "favorite"),
    ("centre", "center"),
    ("Centre", "Center"),
    ("neighbour", "neighbor"),
    ("enquiries", "inquiries"),
    ("enquiry", "inquiry"),
    ("Enquiries", "Inquiries"),
    ("Enquiry", "Inquiry"),
    ("licence", "license"),
    ("organise", "organize"),
    ("apologise", "apologize"),
    ("cancelled", "canceled"),
    ("cheque", "check"),
    ("programme", "program"),
    ("metres", "meters"),
)

TEST_CARDS = (
    "4111 1111 1111 1111",
    "4242 4242 4242 4242",
    "5555 5555 5555 4444",
    "5105 1051 0510 5100",
    "3782 822463 10005",
    "4000 0566 5566 5556",
)

# --- turns shared by every vertical ------------------------------------------------------------

GREETINGS = (
    "Good {part}, {business}, this is {agent} speaking. How can I help you today?",
    "Thanks for calling {business}, you're through to {agent}. What can I do for you?",
    "Hello, {business}, {agent} here. How can I help?",
    "Hi there, you've reached {business}. I'm {agent}, the virtual receptionist. Just so you know, "
    "calls are recorded for quality and training. How can I help today?",
    "Good {part}, you're through to {business}. My name's {agent} — what can I do for you?",
)

AFTER_HOURS_GREETINGS = (
    "You've reached {business} out of hours. I'm {agent}, the virtual assistant — I can take a "
    "booking or pass on a message. How can I help?",
    "Hi, thanks for calling {business}. We're closed right now, but I'm {agent}, the automated "
    "assistant, and I can help with most things. What's it about?",
)

NAME_ASKS = (
    "Can I take your full name, please?",
    "Who am I speaking with, please?",
    "And what name shall I put that under?",
    "Could I get your first and last name?",
)
NAME_REPLIES = (
    "It's {full}.",
    "{full}.",
    "Yeah, it's {first} {last} — {last_spelled}.",
    "{first}. {last}, that's {last_spelled}.",
)
PHONE_ASKS = (
    "What's the best {mobile} number to reach you on?",
    "And a contact number, in case we need to get hold of you?",
    "Can I grab a phone number for you?",
    "What number should we text the confirmation to?",
)
PHONE_REPLIES = (
    "{phone}.",
    "Sure, it's {phone}.",
    "It's {phone} — that's my {mobile}.",
    "Best is {phone}, I don't really answer the landline.",
)
EMAIL_ASKS = (
    "And an email address for the confirmation?",
    "Lovely. And your email, so we can send everything over?",
    "Do you have an email address I can use?",
)
EMAIL_REPLIES = (
    "Yes, it's {email}.",
    "{email}.",
    "It's {email_spoken}.",
    "Sure — {email}, all lower case.",
)
EMAIL_READBACKS = ("So that's {email}?", "Let me read that back: {email}. Is that right?")
READBACK_ACKS = ("That's right.", "Yep, that's it.", "Correct.")
NO_DETAILS = (
    "I'd rather not leave my number, to be honest. I'll ring back when I've decided.",
    "Can I just call back? I don't really want to give my details yet.",
    "I'll hold off on that for now, thanks — I'll call back.",
)
NO_DETAILS_ACKS = (
    "No problem at all. Just mention my name, {agent}, when you call back.",
    "Of course, that's absolutely fine.",
)

ACK_CONFIRM = (
    "Perfect, thank you.",
    "Great, thanks so much.",
    "Brilliant, {cheers}.",
    "Okay, lovely.",
)
ANYTHING_ELSE = (
    "Is there anything else I can help with today?",
    "Anything else I can do for you?",
    "Was there anything else?",
)
NOTHING_ELSE = (
    "No, that's everything, thanks.",
    "No, that's all. Thanks for your help.",
    "That's it, {cheers}.",
    "Actually no, I think that covers it.",
)
GOODBYES = (
    "Thanks for calling {business}. Have a lovely {part}!",
    "You're welcome, {first}. Bye for now.",
    "Take care, {first}. Speak soon.",
    "Thanks, {first}. Have a good one — bye.",
)

GOODBYES_ANONYMOUS = (  # for callers who never gave their name
    "Thanks for calling {business}. Have a lovely {part}!",
    "You're welcome. Bye for now.",
    "Take care. Speak soon.",
)

CARD_REPLIES = (
    "Sure, it's {card}, expiry {expiry}.",
    "Okay, the long number is {card}, and it expires {expiry}.",
    "Yep — {card}. Expiry {expiry}, security code {cvc}.",
)
CARD_ACKS = (
    "Thank you, that's all secured.",
    "Got it, thanks. You'll get a receipt by email.",
)


PARKING = (
    "There is a pay-and-display {car_park} two minutes' walk away.",
    "Free customer parking is available at the rear of the building.",
    "The nearest bus stop is right outside, and there is on-street parking nearby.",
    "We are a five-minute walk from the station; street parking is limited.",
)

# Neutral exchanges that fit any call, used only to bring a short call up to the minimum length.
FILLERS = (
    (
        "A",
        "Sorry, the line dropped for a second there — can you still hear me?",
        "C",
        "Yes, I can hear you now.",
    ),
    ("C", "Sorry, can you hold on one moment? … Okay, I'm back.", "A", "No problem at all."),
)
