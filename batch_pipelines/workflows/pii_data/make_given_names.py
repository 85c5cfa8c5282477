"""Regenerate `given_names.json`, the given-name lexicon of `workflows/pii_names.py`.

Sources:
- the US Census Bureau's 1990 name files `dist.female.first` and `dist.male.first` (public domain;
  as shipped in the sdist of the PyPI package `names` 0.3.0, MIT): every name of frequency
  >= 0.003 % (about 3,300 names);
- `INTERNATIONAL` below: common given names of the UK, Ireland, South Asia, the Arab world, West
  Africa, East Asia, Eastern Europe and Latin America that the 1990 US lists lack (hand-written).

Names that are also common English words ("Will", "Grace", "June") stay in the lexicon; the detector
treats them as ambiguous (`pii_names.AMBIGUOUS`). Run: `python make_given_names.py DIR_WITH_FILES`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MIN_FREQUENCY = 0.003  # percent of the population with that name

INTERNATIONAL = """
Aadhya Aarav Aaron Abdul Abdullah Abena Abhishek Abigail Ade Adebayo Adeola Adwoa Afia Afua Ahmed
Ahmad Aidan Aiden Ailsa Aisha Aishwarya Akira Akosua Aleksander Aleksandra Alessandro Alessia Alfie
Ali Alice Alicja Alina Amaal Amal Amani Amara Amelia Amir Amira Amit Anaya Anjali Ankit Ananya Anil
Anish Anouk Anwar Aoife Archie Arjun Arnav Aryan Asha Ashok Asif Aung Ayaan Ayesha Aylin Ayo Ayodele
Bartosz Beatriz Bilal Bogdan Bronwen Busisiwe Cai Caitlin Callum Carys Cerys Chidi Chidinma Chiara
Chinedu Chinonso Chioma Ciara Ciaran Cillian Conor Connor Dafydd Daiki Darragh Deepak Deepika Dev
Devi Dhruv Diya Dmitri Dmitry Dorota Dylan Efua Eilidh Eimear Eleni Elif Emeka Emre Eoin Esme Ewa
Fatima Fatma Fernanda Fiadh Finlay Finn Fionn Fiona Folake Francesca Freya Funmi Gabriela Gareth
Gaurav Giorgia Giovanni Giulia Gurpreet Habib Hamza Hana Hannah Haruto Harjit Harpreet Hassan Hiba
Himari Hiroshi Hoang Hussein Ibrahim Ifeoma Ikechukwu Imran Ines Isla Ishaan Ivana Jakub Jasleen
Jaspreet Javier Jiayi Jin Joaquin Joanna Kacper Kaito Kamal Karim Karthik Kasia Katarzyna Kavya
Kayode Kemi Kenji Khadija Khalid Kiran Kofi Kojo Krishna Krzysztof Kumar Kwabena Kwaku Kwame Kwasi
Laila Layla Leila Liam Lola Lorcan Lucia Luca Lukasz Maciej Mahmoud Malgorzata Manoj Manpreet Mariam
Marta Mateo Mateusz Mehmet Mei Meera Mehdi Michal Milan Ming Minh Mohamed Mohammed Muhammad Musa
Mustafa Nadia Naledi Nam Naveen Neha Ngozi Niamh Nikhil Nikita Nisha Nkechi Noor Nnamdi Obinna
Oisin Ola Olamide Oluwaseun Omar Oran Orla Osagie Pavel Piotr Pooja Pradeep Prakash Priya Priyanka
Rafael Rahul Raj Rajesh Rakesh Ravi Rehana Reza Rhys Riya Rohan Rohit Ruairi Rukhsana Saanvi Sadia
Saanvi Saira Sakura Salma Samir Sanjay Saoirse Sara Seun Shabnam Shauna Shreya Siddharth Simran
Sinead Siobhan Sione Siddiqui Sipho Sofia Soo Sota Sunil Sunita Suresh Tadhg Tamar Tanvir Tariq
Thandiwe Thi Tomasz Tunde Uchenna Umar Usman Valentina Varun Vikram Vivek Wei Wojciech Xavier Xiu
Yaw Yemi Yetunde Yousef Yuki Yusuf Yuto Zain Zainab Zara Zeynep Zofia Zuzanna Zoe
"""


def given_names(census_dir: Path) -> list[str]:
    names: set[str] = set()
    for file in ("dist.female.first", "dist.male.first"):
        for line in (census_dir / file).read_text().splitlines():
            name, frequency, *_ = line.split()
            if float(frequency) >= MIN_FREQUENCY:
                names.add(name.capitalize())
    names.update(INTERNATIONAL.split())
    return sorted(names)


if __name__ == "__main__":
    out = Path(__file__).with_name("given_names.json")
    out.write_text(json.dumps(given_names(Path(sys.argv[1])), indent=0) + "\n")
