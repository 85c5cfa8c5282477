"""Hospitality: restaurants and hotels."""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc, Exchange, Kind, Scenario, Vertical

X = Exchange

VERTICAL = Vertical(
    name="hospitality",
    businesses=(
        ("The Copper Pot Bistro", "restaurant", "uk"),
        ("Seaview Hotel", "hotel", "uk"),
        ("Olive & Vine Trattoria", "restaurant", "us"),
        ("Harbour Lights Inn", "hotel", "uk"),
        ("The Juniper Room", "restaurant", "us"),
        ("Maple Lodge Hotel", "hotel", "us"),
        ("Saffron House", "restaurant", "uk"),
        ("Driftwood Boutique Hotel", "hotel", "us"),
        ("Ember & Oak Grill", "restaurant", "uk"),
        ("The Gilded Pear", "restaurant", "uk"),
        ("Tidewater Kitchen", "restaurant", "us"),
        ("Fernhill House Hotel", "hotel", "uk"),
    ),
    kinds={
        "restaurant": Kind(
            noun="restaurant",
            services=(
                ("Set lunch, two courses", 22),
                ("Sunday roast", 24),
                ("Seven-course tasting menu", 75),
                ("Wine pairing", 45),
                ("Private dining room hire (minimum spend)", 600),
            ),
            staff=("{first}|restaurant manager", "{first}|head chef", "{first}|events coordinator"),
            hours=(
                "Lunch Wednesday to Sunday 12pm to 3pm; dinner Tuesday to Saturday 5:30pm to 10pm. "
                "Closed Mondays.",
                "Open every day from 12pm to 11pm, kitchen closes at 9:45pm.",
            ),
        ),
        "hotel": Kind(
            noun="hotel",
            services=(
                ("Standard double room, per night", 120),
                ("Sea-view double room, per night", 165),
                ("Family room, per night", 190),
                ("Breakfast, per person", 15),
                ("Spa day package", 95),
                ("Function room hire (minimum spend)", 800),
            ),
            staff=(
                "{first}|front office manager",
                "{first}|reservations",
                "{first}|events manager",
            ),
            hours=(
                "Reception is open 24 hours. Check-in from 3pm, check-out by 11am. Breakfast 7am to "
                "10:30am.",
            ),
        ),
    },
    agent_roles=("Reservations", "Events enquiries", "Front desk"),
    scenarios=(
        Scenario(
            key="table_booking",
            kinds=("restaurant",),
            service="Set lunch",
            sensitive=("card",),
            opener=(
                "Hi, I'd like to book a table for four on {day} evening, please.",
                "Hello, have you got a table for two on {day}?",
                "Hi, can I book for six people on {day}? It's my dad's seventieth.",
            ),
            core=(
                X(
                    "A",
                    (
                        "Let me check. I've got {time} or a little later at {time2} — and would you "
                        "like inside, or the terrace if the weather holds?",
                    ),
                    ("{time}, inside please.", "{time} is great — inside, it'll be chilly."),
                ),
                X(
                    "A",
                    ("Any dietary requirements or allergies in the group?",),
                    (
                        "One vegetarian, and my wife is coeliac — is that okay?",
                        "My son has a nut allergy, quite a serious one.",
                        "No, we'll eat anything!",
                    ),
                ),
                X(
                    "A",
                    (
                        "That's no problem — I'll flag it for the kitchen and your server will go "
                        "through the menu with you.",
                        "Absolutely. {staff}, our head chef, is very careful with allergies — I'll "
                        "put a note on the booking.",
                    ),
                    ("Thank you, that's a relief.", "Perfect."),
                ),
                X(
                    "A",
                    ("Is it a special occasion at all?",),
                    (
                        "It's our anniversary, actually.",
                        "My dad's birthday — could you do a candle in a dessert?",
                        "No, just a night out.",
                    ),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Do you have a high chair? We're bringing the baby.",),
                    ("We do, I'll make sure one's at the table.",),
                ),
                X(
                    "C",
                    ("Can we bring our own wine?",),
                    ("We don't do corkage on weekends, sorry, but there's a good wine list.",),
                ),
                X(
                    "C",
                    ("Is there parking nearby?",),
                    ("There's a {car_park} two minutes' walk away, free after 6pm.",),
                ),
                X(
                    "C",
                    ("Are dogs allowed?",),
                    ("Well-behaved dogs are welcome in the bar area and on the terrace.",),
                ),
            ),
            confirm=(
                "Lovely, that's a table on {day} at {time}. We hold tables for fifteen minutes.",
                "All booked for {day} at {time}. You'll get a confirmation text.",
            ),
            notes=(
                "Anniversary — table by the window if possible.",
                "Coeliac guest — flagged for kitchen.",
                "70th birthday, party of 6 — candle in dessert.",
            ),
        ),
        Scenario(
            key="private_event",
            kinds=(),
            sensitive=("card",),
            service="hire",
            opener=(
                "Hi, I'm organising a work Christmas party for about thirty people. Do you do "
                "private hire?",
                "Hello, we're looking for somewhere for a fortieth birthday dinner, around twenty "
                "guests.",
            ),
            core=(
                X(
                    "A",
                    ("We'd love to host you. Which date are you thinking of?",),
                    ("A Friday in mid-December.", "The first Saturday of next month."),
                ),
                X(
                    "A",
                    (
                        "Our private room seats up to forty. There's a minimum spend of {cur}{price} on "
                        "Fridays and Saturdays, and set menus start at {cur}45 a head.",
                        "For that size we'd use the garden room. There's a set menu from {cur}45 a "
                        "head, and we can arrange drinks packages.",
                    ),
                    ("That sounds within budget.", "Do you need a deposit?"),
                ),
                X(
                    "A",
                    (
                        "To hold the date we take a deposit of {cur}{deposit}, refundable up to four "
                        "weeks before. {staff} can send the event menus.",
                    ),
                    ("Great, please send them over.", "Okay, I'll need to check with my manager."),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Can we bring a DJ or play our own music?",),
                    ("You can connect to the room's speakers, and DJs are fine until 11pm.",),
                ),
                X(
                    "C",
                    ("Is the room accessible? One of our team uses a wheelchair.",),
                    (
                        "Yes, step-free from the street, with an accessible toilet next to the room.",
                    ),
                ),
            ),
            confirm=(
                "I'll pencil in the date for 48 hours and {staff} will email the menus today.",
            ),
            notes=(
                "Christmas party, ~30 guests, Friday mid-December. Send menus.",
                "40th birthday, 20 guests — needs wheelchair access.",
            ),
        ),
        Scenario(
            key="room_booking",
            kinds=("hotel",),
            service="double room",
            opener=(
                "Hi, I'd like to book a double room for two nights from {day}.",
                "Hello, do you have any sea-view rooms free from {day}?",
                "Hi, we need a family room for three nights — two adults and two kids.",
            ),
            core=(
                X(
                    "A",
                    ("Let me check availability. Is that for two adults?",),
                    ("Yes, just the two of us.", "Two adults and two children, eight and eleven."),
                ),
                X(
                    "A",
                    (
                        "I have a room at {cur}{price} a night, or with breakfast included it's "
                        "{cur}{price_plus} a night.",
                    ),
                    ("With breakfast please.", "Room only is fine, thanks."),
                ),
                X(
                    "C",
                    ("What time is check-in?",),
                    (
                        "From 3pm, and check-out is 11am. If you arrive early we can store your "
                        "luggage.",
                    ),
                ),
            ),
            extras=(
                X(
                    "C",
                    ("Is there parking at the hotel?",),
                    ("Yes, free parking for guests, and two EV charging points.",),
                ),
                X(
                    "C",
                    ("Are dogs allowed in the rooms?",),
                    ("We have four dog-friendly rooms at {cur}15 a night extra.",),
                ),
                X(
                    "C",
                    ("Can we book a table in the restaurant for the first night?",),
                    ("Of course — I'll put you down for 7:30pm on {day}.",),
                ),
            ),
            confirm=("You're booked in from {day}. Your confirmation number is {ref}.",),
            notes=(
                "Anniversary stay — arrange flowers in room?",
                "Family of 4; asked about kids' menu.",
            ),
        ),
        Scenario(
            key="lost_property",
            faq=False,
            kinds=(),
            lead=False,
            contact=False,
            opener=(
                "Hi, we had dinner with you on Saturday and I think I left my scarf on the chair.",
                "Hello, I stayed last week and I think I left my phone charger in the room.",
            ),
            core=(
                X(
                    "A",
                    ("Let me check lost property — can I take your name?",),
                    ("{full}.", "It's {full}."),
                ),
                X(
                    "A",
                    (
                        "Good news, {first}, we've found it. It'll be at reception, labelled with your "
                        "name, whenever you're passing.",
                    ),
                    ("Thank you so much!", "Brilliant, you're a star."),
                ),
            ),
            weight=0.4,
        ),
    ),
    faq=(
        X(
            "C",
            ("Do you cater for vegans?",),
            ("Yes, there are vegan dishes on every menu, marked with a V+.",),
        ),
        X(
            "C",
            ("Is there a dress code?",),
            ("No dress code — smart casual is perfect.",),
        ),
        X(
            "C",
            ("Do you have gift vouchers?",),
            ("We do, from {cur}25, on our website or at reception.",),
        ),
        X(
            "C",
            ("Do you have outdoor seating?",),
            ("Yes, a heated terrace — it's first come, first served unless you book it.",),
        ),
    ),
    card_ask=(
        "Could I take a card to secure the booking? There's a {cur}{late_fee} per person charge for "
        "no-shows, otherwise nothing is taken.",
        "I'll need a card to guarantee the reservation — nothing is charged unless it's a no-show or "
        "a late cancellation.",
    ),
    web_leads=(
        "Web enquiry: wedding reception for 80, summer next year.",
        "Corporate enquiry: monthly team dinners, 12 people.",
        "Asked for event menus via contact form.",
        "Gift voucher buyer, enquired about overnight packages.",
    ),
    docs=(
        Doc(
            title="Menus and prices",
            paragraphs=(
                "At {business} we cook with local, seasonal produce. Menus change with the seasons; "
                "these are our current prices.",
                "{price_list}",
                "Dietary requirements: please tell us about any allergies when you book. We can "
                "adapt most dishes to be gluten-free, dairy-free or vegan, and our kitchen follows "
                "strict allergen procedures.",
            ),
            kinds=("restaurant",),
        ),
        Doc(
            title="Rooms, rates and what's included",
            paragraphs=(
                "All rooms at {business} have free wifi, a flat-screen TV, tea and coffee making "
                "facilities and luxury toiletries.",
                "{price_list}",
                "Children under four stay free. Cots and extra beds are available on request. We "
                "have four dog-friendly rooms.",
            ),
            kinds=("hotel",),
        ),
        Doc(
            title="Reservations and cancellation policy",
            paragraphs=(
                "Book online at {website}, call {business_phone}, or speak to our virtual assistant "
                "at any hour.",
                "Groups of six or more are secured with a card. We hold tables for fifteen minutes "
                "after the booking time.",
                "Please give {cancel_hours} hours' notice of cancellation. Late cancellations and "
                "no-shows are charged {cur}{late_fee} per person.",
                "Room reservations can be cancelled free of charge up to 48 hours before arrival.",
            ),
        ),
        Doc(
            title="Private events and parties",
            paragraphs=(
                "From birthdays to weddings and work parties, our events team will help plan every "
                "detail.",
                "Private spaces seat up to forty guests. Weekend bookings carry a minimum spend; a "
                "deposit of {cur}{deposit} secures your date and is refundable up to four weeks "
                "before the event.",
                "Speak to {staff_list} by calling {business_phone} or emailing {email_business}.",
            ),
        ),
        Doc(
            title="Getting here, hours and accessibility",
            paragraphs=(
                "You'll find us at {address}. {parking}",
                "Hours: {hours}",
                "We have step-free access throughout the ground floor and an accessible toilet. "
                "Assistance dogs are always welcome.",
            ),
        ),
    ),
    colours=("#7f1d1d", "#14532d", "#1e40af", "#78350f", "#365314"),
)
