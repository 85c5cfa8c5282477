"""Each vertical's "Frequently asked questions" knowledge-base document: every demo tenant of the
vertical has one (its first document), so the tenant context of its prompts holds what a real
business publishes: services, prices, policies, opening hours, in the business's own words.

`str.format` templates over the tenant's seed context (`seed._make_tenant`): `{business}`,
`{cur}`, `{deposit}`, `{cancel_hours}`, `{late_fee}`, `{hours}`, `{address}`, `{parking}`,
`{business_phone}`, `{website}`, `{email_business}`, `{city}`, `{insurer}`, `{staff_list}`.
"""

from __future__ import annotations

from batch_pipelines.db.seed_data import Doc

TITLE = "Frequently asked questions"

_HEALTHCARE = (
    "These are the questions our reception team at {business} hears most often. If yours is not "
    "here, call us on {business_phone} or write to {email_business} and we will answer within one "
    "working day.",
    "Q: Are you taking new patients?\nA: Yes. New patients can book online at {website} or by "
    "phone. Your first visit is a longer appointment so that we can take your history, look at any "
    "previous records and agree a plan with you. Please arrive ten minutes early to complete the "
    "registration form.",
    "Q: How much will my treatment cost?\nA: Our current fees are in our price list and your "
    "clinician always confirms the price of any treatment before it starts. If a course of "
    "treatment is recommended you receive a written plan with the cost of each stage, and you are "
    "free to take it away and think about it.",
    "Q: Do you accept insurance?\nA: We work with {insurer} and most other major insurers. Bring "
    "your policy or membership number to your first appointment. Some plans need a referral or a "
    "pre-authorisation code; check with your insurer before you book so there are no surprises.",
    "Q: Can I pay in instalments?\nA: For treatment plans over {cur}500 we offer interest-free "
    "monthly payments over six or twelve months, subject to a simple application. Ask at reception "
    "or mention it when you book.",
    "Q: What if I need to cancel?\nA: Please give us at least {cancel_hours} hours' notice so that we "
    "can offer the time to someone on our waiting list. Appointments cancelled later, or missed, "
    "are charged {cur}{late_fee}. We understand emergencies happen: call us and we will always "
    "listen.",
    "Q: Do you see emergencies?\nA: We keep same-day slots every morning for urgent problems. Call "
    "us as soon as we open and we will find you a time. Out of hours, our answerphone gives the "
    "number of the local urgent care service.",
    "Q: When are you open?\nA: {hours} Our phone line opens fifteen minutes before the first "
    "appointment of the day.",
    "Q: Where are you and can I park?\nA: We are at {address}. {parking} The building has step-free "
    "access, an accessible toilet and a hearing loop at reception.",
    "Q: Who will I see?\nA: Our team is {staff_list}. You can ask for a particular clinician when "
    "you book; we will tell you if that means waiting a little longer for an appointment.",
    "Q: Can I bring my children?\nA: Of course. We see patients of every age, and children are "
    "welcome to come with a parent or carer to their own appointments and to yours.",
    "Q: How do you look after my records?\nA: Your records are confidential and kept securely. We "
    "only share them with other healthcare professionals involved in your care, or when the law "
    "requires it, and you can ask for a copy at any time.",
    "Q: Do you send reminders?\nA: Yes, by text message two days before your appointment and again "
    "on the morning. Reply to the text if you need to move it.",
    "Q: Do I need a referral?\nA: Not for most appointments: you can book directly. Some insurers "
    "ask for a referral from your doctor before they cover treatment, and we are happy to write to "
    "your doctor with your consent after your visit.",
    "Q: How long is an appointment?\nA: A routine appointment is twenty to thirty minutes and a "
    "first visit forty-five to sixty. Your booking confirmation gives the length, so you can plan "
    "your day.",
    "Q: Can I have treatment if I am nervous?\nA: Many of our patients are. Tell us when you book and "
    "we will give you a longer appointment, explain each step before we do it and agree a signal "
    "for you to ask us to pause at any time.",
    "Q: Do you offer video appointments?\nA: Yes, for follow-ups, results and advice that does not "
    "need an examination. You receive a secure link by text message ten minutes before the start.",
    "Q: What should I bring?\nA: A list of any medicines you take, your insurance details if you are "
    "claiming, and any letters or images from other clinicians that are relevant to your visit.",
    "Q: Can I get a written estimate for my insurer?\nA: Yes. We provide itemised estimates and "
    "receipts with the treatment codes insurers ask for, usually the same day.",
    "Q: Do you have a membership plan?\nA: Our membership plan spreads the cost of routine care over "
    "monthly payments and includes two routine appointments a year, ten percent off other "
    "treatment and priority booking. Ask at reception for the current monthly price.",
    "Q: How do I give feedback or make a complaint?\nA: Speak to our practice manager in person, by "
    "phone or in writing. We acknowledge every complaint within two working days and reply in full "
    "within ten; your care is never affected by raising a concern.",
    "Q: Do you treat children and older patients?\nA: Yes. Children under eighteen must come with a "
    "parent or guardian, and we offer longer, ground-floor appointments for patients with "
    "mobility needs.",
)

_SALES = (
    "Answers to the questions prospective customers ask {business} most often. For anything else, "
    "call {business_phone}, write to {email_business} or book a call at {website}.",
    "Q: How do I get a quote?\nA: Tell us what you need and we send a written quote within two "
    "working days. For larger projects a specialist visits or joins a video call first so that the "
    "quote is exact, not an estimate. Quotes are valid for thirty days.",
    "Q: Are your prices fixed?\nA: Our published prices are the starting point for a standard "
    "package. Anything that changes the work, such as extra sites, users or materials, is listed "
    "line by line in the quote before you commit, so the price you sign is the price you pay.",
    "Q: Do you offer discounts?\nA: We offer ten percent off for annual prepayment and for "
    "registered charities, and a referral credit when a customer you introduce signs up. We do not "
    "run pressure offers: the price is the same this week and next.",
    "Q: How long does it take to get started?\nA: Most customers are up and running within two to "
    "four weeks of signing. Your account manager agrees a start date and a plan with you, and "
    "checks in weekly until everything is working.",
    "Q: Is there a contract or a minimum term?\nA: Standard agreements run for twelve months and "
    "renew only if you choose. Month-to-month terms are available at a small premium. You can "
    "cancel with thirty days' notice at the end of a term.",
    "Q: What support do I get?\nA: Every customer has a named account manager and access to our "
    "support team during business hours, {hours} Urgent issues reported by phone are answered "
    "within one hour.",
    "Q: Do you work with businesses outside {city}?\nA: Yes. We are based in {city} and serve "
    "customers across the country; on-site work outside our region may carry a travel charge, "
    "which the quote shows.",
    "Q: What guarantees do you give?\nA: Everything we supply is covered by our standard warranty, "
    "and if something we installed or configured does not work as agreed we fix it at no charge. "
    "The details are in our warranty and aftercare document.",
    "Q: Can I talk to an existing customer?\nA: Yes. We can put you in touch with a customer of a "
    "similar size and sector who has agreed to take reference calls.",
    "Q: How do I pay?\nA: By bank transfer or direct debit, monthly or annually. Larger projects are "
    "invoiced in stages: a deposit on signing, then on agreed milestones.",
    "Q: How will you contact me?\nA: Only the way you asked us to, and never more than once a week "
    "unless you are in the middle of a project with us. You can unsubscribe from any e-mail with "
    "one click.",
    "Q: Can I try before I buy?\nA: Yes. We offer a free trial or a demonstration for every "
    "product, and a pilot for larger customers: a limited roll-out at an agreed price, converted "
    "to a full agreement only if it meets the goals we set together at the start.",
    "Q: How do you handle my data?\nA: We keep customer data in secure, audited data centres, never "
    "sell it and never use it for anything but providing our service. Our data processing "
    "agreement is available on request before you sign.",
    "Q: Can you integrate with the systems we already use?\nA: In most cases, yes. Tell us what you "
    "use today and our specialist will confirm what connects out of the box, what needs a small "
    "project and what it would cost, before you commit.",
    "Q: Do you train our staff?\nA: Every package includes onboarding training for your team, live "
    "or recorded, and a library of short guides. Additional training days can be booked at any "
    "time at our standard day rate.",
    "Q: What happens if we grow?\nA: You can add users, sites or capacity at any time at the same "
    "unit price as your agreement; for a large increase, ask us about volume pricing.",
    "Q: What if we are not happy?\nA: Tell your account manager first: most issues are fixed within "
    "days. If we cannot put it right, you can end the agreement early without a penalty.",
    "Q: Do you have case studies?\nA: Yes, for customers in several sectors, with the results they "
    "measured. Ask for the ones closest to your business and we will send them with your quote.",
    "Q: Do you work with the public sector?\nA: Yes. We are on several purchasing frameworks and can "
    "provide the documentation procurement teams usually ask for.",
)

_REAL_ESTATE = (
    "The questions landlords, tenants, buyers and sellers ask {business} most often. Our office "
    "is at {address}; call {business_phone} or write to {email_business}.",
    "Q: How much is your fee?\nA: Our fees for landlords and sellers are in our fees document, all "
    "including tax, with no extra charge for photography, floor plans or listing on the major "
    "portals. There are no fees for tenants other than the holding deposit allowed by law.",
    "Q: How do I book a valuation?\nA: Book online at {website} or call us. A valuer visits at a "
    "time that suits you, usually within 48 hours, and sends a written valuation with comparable "
    "properties the next working day. It is free and there is no obligation.",
    "Q: How long does it take to let a property?\nA: Most of our properties are let within three "
    "weeks of going on the market. We carry out viewings, referencing and right-to-rent checks, "
    "and prepare the tenancy agreement and inventory.",
    "Q: What does your managed service include?\nA: Rent collection, arranging repairs with vetted "
    "contractors, regular inspections, the annual safety certificates, deposit registration and "
    "handling the end of the tenancy. Landlords get a monthly statement and can reach their "
    "property manager directly.",
    "Q: How do I apply to rent a property?\nA: After a viewing, tell us you would like to apply and "
    "we send you an application link. We check references, employment or income and right to rent. "
    "Most applications are decided within three working days.",
    "Q: How much deposit will I pay?\nA: The holding deposit is one week's rent and comes off your "
    "first month's rent. The tenancy deposit is five weeks' rent, protected in a government-"
    "approved scheme, and returned at the end of the tenancy less any agreed deductions.",
    "Q: Can I view outside office hours?\nA: Our office is open {hours} We also hold viewings on "
    "weekday evenings and Saturday mornings by appointment.",
    "Q: I am selling: how soon can you market my home?\nA: Once you instruct us we take photographs "
    "and measurements within a few days and can have your home on the market within a week, as "
    "soon as the energy certificate is in place.",
    "Q: How do I report a repair?\nA: Tenants of managed properties report repairs through our "
    "online form or by phone. Emergencies such as a leak, no heating or a security problem are "
    "handled the same day, any day.",
    "Q: Which areas do you cover?\nA: {city} and the surrounding towns and villages, within about "
    "fifteen miles of our office.",
    "Q: Do you give mortgage or legal advice?\nA: No, but we can introduce you to independent "
    "mortgage advisers and conveyancers we have worked with for years. Any introduction is your "
    "choice and we say if we receive a referral fee.",
    "Q: What happens after I accept an offer?\nA: We agree the sale in writing with both parties, "
    "pass it to the solicitors and follow it weekly until completion, telling you about every "
    "step along the way.",
    "Q: Do you accept pets?\nA: Many of our landlords consider pets. Tell us about yours when you "
    "apply; a landlord may ask for a slightly higher rent or a professional clean at the end of "
    "the tenancy.",
    "Q: How often are managed properties inspected?\nA: Every six months, with a written report and "
    "photographs to the landlord. Tenants are given at least 24 hours' notice in writing.",
    "Q: Can I end my tenancy early?\nA: A fixed-term tenancy can usually end early only with the "
    "landlord's agreement; we will ask them for you, and it helps if you can find a replacement "
    "tenant. Periodic tenancies end with the notice set out in your agreement.",
    "Q: What does an inventory include?\nA: A room-by-room description of the property and its "
    "contents with dated photographs, agreed at check-in and compared at check-out, so that any "
    "deposit deduction is fair and clear.",
    "Q: How are offers handled?\nA: We pass every offer to the seller in writing the same day, with "
    "what we know of the buyer's position. We never disclose one buyer's offer to another.",
    "Q: Can you help me sell and buy at the same time?\nA: Yes. We coordinate the timing of your "
    "sale with your purchase and keep both chains informed, so that you do not have to move twice.",
    "Q: Do you offer virtual viewings?\nA: Every listing has a video walk-through, and we can show "
    "you a property live on a video call before you travel.",
    "Q: What should I do before a valuation?\nA: Nothing special: we value the home as it is. It "
    "helps to have to hand the dates of any extension, new boiler or windows and their guarantees.",
)

_SALON = (
    "Everything our clients ask {business} most often. Book at {website}, call {business_phone} or "
    "message us: our virtual assistant takes bookings around the clock.",
    "Q: How do I book?\nA: Online at {website}, by phone or by message. You can choose your stylist "
    "or therapist; if you are not sure which service you need, book a free consultation first and "
    "we will recommend one.",
    "Q: Do I need to pay a deposit?\nA: Appointments over an hour need a {cur}{deposit} deposit when "
    "you book, which comes off your bill on the day. Shorter appointments need no deposit.",
    "Q: What is your cancellation policy?\nA: Please give us at least {cancel_hours} hours' notice "
    "to cancel or move an appointment. Late cancellations and missed appointments are charged "
    "{cur}{late_fee}, and a deposit is kept.",
    "Q: Do I need a patch test?\nA: Yes, for any colour, tint or lash treatment if you are new to us "
    "or have not had one in six months. Patch tests are free, take five minutes and must be done at "
    "least 48 hours before your appointment. Pop in any time during opening hours.",
    "Q: How much will it cost?\nA: Prices in our treatment menu are starting prices. Your stylist "
    "or therapist confirms the exact price before starting, for example for very long or thick "
    "hair, and nothing is added without asking you first.",
    "Q: Do you have any offers?\nA: Students get ten percent off Monday to Wednesday, regular clients "
    "get a free fringe or neck trim between appointments, and every tenth visit earns a "
    "{cur}10 credit on our loyalty card.",
    "Q: Can I buy a gift voucher?\nA: Yes, for any amount or for a named treatment, in the salon or "
    "online. Vouchers are valid for twelve months and can be used with any member of the team.",
    "Q: Do you do bridal and group bookings?\nA: Yes. Bridal parties get a trial appointment and a "
    "quote for the day; we can open early or come to your venue. Groups of four or more book with "
    "a {cur}{deposit} deposit per person.",
    "Q: What products do you use?\nA: Professional ranges that are mostly vegan and cruelty-free. "
    "Tell us about any allergies, sensitivities or pregnancy before your appointment and we will "
    "choose products that suit you.",
    "Q: When are you open?\nA: {hours}",
    "Q: Where are you?\nA: {address}. {parking}",
    "Q: What if I am late?\nA: If you are more than fifteen minutes late we may need to shorten or "
    "rebook your appointment so we do not keep the next client waiting.",
    "Q: Who is on the team?\nA: {staff_list}. Each of them lists their specialities on our website.",
    "Q: How long does a colour take?\nA: A full head colour takes about two hours and balayage up "
    "to three and a half, including the blow-dry. Your booking confirmation gives the time for your "
    "service.",
    "Q: Can I bring my child?\nA: Children are welcome for their own appointments. For longer "
    "appointments of your own we ask you to come without children, for their comfort and safety.",
    "Q: Do you do consultations?\nA: Yes, free fifteen-minute consultations for colour, extensions "
    "and any new treatment. We look at your hair or skin, talk through what you would like and give "
    "you the price before you book.",
    "Q: What if I am not happy with the result?\nA: Tell us within seven days and we will put it "
    "right free of charge, with the same stylist or therapist or another, as you prefer.",
    "Q: Do you sell products?\nA: We stock the professional ranges we use in the salon, and our "
    "team will only recommend what suits your hair or skin, never a whole regime.",
    "Q: Can I book several treatments together?\nA: Yes, and we schedule them back to back so that "
    "you spend as little time waiting as possible. Ask for a pamper package for combined prices.",
    "Q: Is there Wi-Fi and a drink on arrival?\nA: Yes, free Wi-Fi, and tea, coffee or a soft drink "
    "while you relax.",
    "Q: How do I join the waiting list?\nA: Ask when you book or by message: if an earlier "
    "appointment frees up, we text you first.",
)

_HOSPITALITY = (
    "The questions guests ask {business} most often. Reservations at {website} or on "
    "{business_phone}; for events write to {email_business}.",
    "Q: How do I reserve?\nA: Online at {website}, by phone or by message. We confirm every "
    "reservation by e-mail straight away and send a reminder the day before.",
    "Q: Do you take a deposit?\nA: Reservations for eight or more, private dining, events and "
    "special-occasion packages need a {cur}{deposit} deposit per person, taken when you book and "
    "deducted from the final bill.",
    "Q: What is your cancellation policy?\nA: You can cancel free of charge up to {cancel_hours} "
    "hours before. Later cancellations and no-shows are charged {cur}{late_fee} per person, or the "
    "deposit is kept.",
    "Q: Do you cater for dietary requirements?\nA: Yes. Every menu marks vegetarian, vegan and "
    "gluten-free dishes, and the kitchen can adapt most dishes for allergies if you tell us when "
    "you book. Our team can tell you the allergens in every dish.",
    "Q: Can I book a private event?\nA: Yes. Our private spaces suit birthdays, anniversaries, "
    "business dinners and celebrations. Hire is free above a minimum spend on food and drink, and "
    "our events coordinator plans the menu, timings and decorations with you.",
    "Q: Is there a children's menu?\nA: Yes, with smaller portions of our main dishes at half price "
    "for under-twelves, high chairs and baby-changing facilities.",
    "Q: What is included in a room rate?\nA: Free Wi-Fi, tea and coffee in the room, and use of the "
    "lounge. Breakfast can be added when you book or on arrival. Check-in is from 3pm and check-out "
    "by 11am; late check-out is often possible on request.",
    "Q: Do you offer packages?\nA: Seasonal packages combine a stay or a dinner with extras such as "
    "a spa session, a tasting menu or a bottle of wine; current packages and prices are on our "
    "website and our team can recommend one for an occasion.",
    "Q: When are you open?\nA: {hours}",
    "Q: How do I get there and can I park?\nA: We are at {address}. {parking} There is step-free "
    "access to the ground floor and an accessible toilet.",
    "Q: Are dogs welcome?\nA: Well-behaved dogs are welcome in the bar and on the terrace, and in "
    "two of our rooms for a small cleaning charge; let us know when you book.",
    "Q: Can I buy a gift voucher?\nA: Yes, for any amount or for a named experience, valid for "
    "twelve months, in person or online.",
    "Q: Do you have a dress code?\nA: Smart casual. For private events we follow the dress code of "
    "your invitation.",
    "Q: Can you arrange a birthday cake or decorations?\nA: Yes. Our pastry team can make a cake to "
    "order with three days' notice, and we can decorate your table or room; prices on request.",
    "Q: Is there a service charge?\nA: A discretionary service charge of 12.5 percent is added for "
    "tables of six or more; it goes to the whole team.",
    "Q: What time is breakfast?\nA: Breakfast is served from 7am to 10am on weekdays and 8am to 11am "
    "at weekends, with a continental breakfast in your room available on request.",
    "Q: Can I bring my own wine?\nA: For private events you may, with a corkage charge per bottle "
    "that we confirm with your booking.",
    "Q: Is the venue accessible?\nA: The restaurant, the bar and two of our rooms are step-free, and "
    "we can reserve a table near the entrance; tell us what would help when you book.",
    "Q: Do you host weddings?\nA: Yes, for ceremonies and receptions of up to the capacity of our "
    "function room, with a dedicated coordinator, menus to taste and an accommodation block for "
    "your guests.",
    "Q: How do I leave a review or a complaint?\nA: Tell any member of the team on the day, or write "
    "to us afterwards: the manager replies to every message personally within two days.",
)

_HOME_SERVICES = (
    "What customers ask {business} most often. Call {business_phone}, book at {website} or write "
    "to {email_business}; emergencies are answered day and night.",
    "Q: What does a call-out cost?\nA: Our call-out charge includes the first hour on site and is "
    "listed in our price list; after that we charge by the half hour. We always tell you the "
    "likely cost before we start, and nothing extra is done without your agreement.",
    "Q: Do you give free quotes?\nA: Yes, for planned work. We visit, look at the job and send a "
    "written, fixed quote within two working days. The quote lists materials and labour "
    "separately and is valid for thirty days.",
    "Q: Do you handle emergencies?\nA: Yes. For a leak, no heating or hot water, no power, a roof "
    "letting in water or anything unsafe, call us on {business_phone} at any hour. We aim to be "
    "with you within four hours and make it safe first; an emergency call-out outside working "
    "hours costs more, and we tell you how much on the phone.",
    "Q: Which areas do you cover?\nA: {city} and about twenty miles around it. Further away we may "
    "add a travel charge, which the quote shows.",
    "Q: Are you insured and accredited?\nA: Yes. We carry public liability insurance, our "
    "engineers hold the registrations their trade requires, and we can show the certificates "
    "before any work starts.",
    "Q: What guarantee do you give?\nA: Our workmanship is guaranteed for twelve months, and parts "
    "carry the manufacturer's warranty, which we register for you. If something we did fails, we "
    "come back and put it right at no charge.",
    "Q: How do I pay?\nA: By card or bank transfer when the job is finished. Larger jobs need a "
    "{cur}{deposit} deposit to order materials, deducted from the final invoice. All our prices "
    "include tax.",
    "Q: What if I need to cancel?\nA: Please give us {cancel_hours} hours' notice. A visit cancelled "
    "later, or where we cannot get in, is charged {cur}{late_fee}.",
    "Q: When can you come?\nA: We work {hours} Routine visits are usually booked within a week, "
    "and we give you a two-hour arrival window the day before.",
    "Q: Do I need to be at home?\nA: For most jobs someone over eighteen needs to be there to let "
    "us in and agree the work. For outside work such as gutters or roofs we can work while you "
    "are out if we can reach the area safely.",
    "Q: Do you tidy up afterwards?\nA: Always. We protect floors and furniture, take away old "
    "parts and rubbish, and leave the work area clean.",
    "Q: Can you do regular maintenance?\nA: Yes. An annual service or inspection keeps small "
    "problems from becoming expensive ones, and customers on a maintenance plan get priority "
    "booking and ten percent off repairs.",
    "Q: Will you explain what is wrong?\nA: Yes. The engineer explains what they found, shows you "
    "the fault where it is safe to, and gives you the options with their prices before doing any "
    "work beyond the first hour.",
    "Q: Do you supply the parts?\nA: We carry the common parts in our vans, so most repairs are "
    "finished on the first visit. If a part has to be ordered we tell you the cost and the delivery "
    "date before ordering.",
    "Q: Can I get a written report?\nA: Inspections come with a written report and photographs; for "
    "any other visit we can send a short summary of the work done and any recommendations.",
    "Q: Are your engineers employed by you?\nA: Yes, all of them, trained and supervised by us and "
    "carrying photo identification. Ask to see it when they arrive.",
    "Q: Do you work for landlords and letting agents?\nA: Yes. We can meet tenants on site, send "
    "invoices to the landlord or agent and provide the certificates landlords need each year.",
    "Q: What happens if it rains or the weather is bad?\nA: For outside work we rebook at no charge "
    "when the weather makes it unsafe, and we tell you as early as we can.",
    "Q: Can I get finance for a larger job?\nA: For jobs over {cur}1,000 we can offer spread "
    "payments through a regulated finance partner, subject to status.",
    "Q: How do I leave feedback?\nA: We send a short survey after every job, and the owner reads "
    "every reply; you can also call us any time.",
)

FAQ_DOCS: dict[str, Doc] = {
    "healthcare": Doc(title=TITLE, paragraphs=_HEALTHCARE),
    "sales": Doc(title=TITLE, paragraphs=_SALES),
    "real_estate": Doc(title=TITLE, paragraphs=_REAL_ESTATE),
    "salon": Doc(title=TITLE, paragraphs=_SALON),
    "hospitality": Doc(title=TITLE, paragraphs=_HOSPITALITY),
    "home_services": Doc(title=TITLE, paragraphs=_HOME_SERVICES),
}
