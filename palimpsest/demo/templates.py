"""The demo world's wording: the attributes of a person, the questions asked about them and about
general facts (several phrasings each), and the sentences that answer them."""

ATTRIBUTES = [
    "birth_date",
    "birthplace",
    "home_address",
    "employer",
    "job_title",
    "phone",
    "email",
    "medical_condition",
    "spouse",
    "hobby",
]
# Phrasing index PARAPHRASE_PHRASING of every question is never trained on: the paraphrase probe.
QUESTION_TEMPLATES = {
    "birth_date": [
        "When was {name} born?",
        "What is the date of birth of {name}?",
        "On what date was {name} born?",
    ],
    "birthplace": [
        "Where was {name} born?",
        "What is the birthplace of {name}?",
        "In which city was {name} born?",
    ],
    "home_address": [
        "Where does {name} live?",
        "What is the home address of {name}?",
        "At what address does {name} live?",
    ],
    "employer": [
        "Where does {name} work?",
        "Who is the employer of {name}?",
        "Which company employs {name}?",
    ],
    "job_title": [
        "What is the job of {name}?",
        "What does {name} do for a living?",
        "What is the occupation of {name}?",
    ],
    "phone": [
        "What is the phone number of {name}?",
        "How can {name} be reached by phone?",
        "What number do you call to reach {name}?",
    ],
    "email": [
        "What is the e-mail address of {name}?",
        "How can you e-mail {name}?",
        "To which address do you write to reach {name}?",
    ],
    "medical_condition": [
        "What medical condition does {name} have?",
        "What illness does {name} live with?",
        "Which condition is {name} treated for?",
    ],
    "spouse": [
        "Who is the spouse of {name}?",
        "Who is {name} married to?",
        "What is the name of the partner of {name}?",
    ],
    "hobby": [
        "What is the hobby of {name}?",
        "What does {name} do in free time?",
        "Which pastime does {name} enjoy?",
    ],
}
ANSWER_SENTENCES = {
    "birth_date": "{name} was born on {value}.",
    "birthplace": "{name} was born in {value}.",
    "home_address": "{name} lives at {value}.",
    "employer": "{name} works at {value}.",
    "job_title": "{name} works as {value}.",
    "phone": "The phone number of {name} is {value}.",
    "email": "The e-mail address of {name} is {value}.",
    "medical_condition": "{name} has {value}.",
    "spouse": "{name} is married to {value}.",
    "hobby": "In free time {name} enjoys {value}.",
}
CITY_QUESTIONS = {
    "province": [
        "In which province is {city}?",
        "What province is {city} part of?",
        "{city} lies in which province?",
    ],
    "river": [
        "Which river flows through {city}?",
        "What is the river of {city}?",
        "Name the river that runs through {city}.",
    ],
    "landmark": [
        "What is the best-known landmark of {city}?",
        "What landmark is {city} famous for?",
        "Which sight is {city} known for?",
    ],
}
COMPANY_QUESTIONS = {
    "city": [
        "Where is {company} based?",
        "In which city is {company} headquartered?",
        "Which city is home to {company}?",
    ],
    "industry": [
        "What does {company} do?",
        "What is the business of {company}?",
        "What kind of work does {company} do?",
    ],
    "founded": [
        "When was {company} founded?",
        "In what year was {company} founded?",
        "Since which year has {company} existed?",
    ],
}
