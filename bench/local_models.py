"""The local `minilm` embedding model: load time, throughput and retrieval quality.

    .venv/bin/python bench/local_models.py [--rounds 8]

Load time is the first call's model load (imports of onnxruntime and tokenizers included). Throughput embeds the
passages below in batches of 32 with the runtime's own settings (2 threads, 256-piece truncation). Retrieval: each
query has one relevant passage; every other passage is a candidate too, and each query brings two hard negatives
that share its words or topic without answering it. recall@k is the share of queries whose passage ranks in the top k.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offline.local_models.minilm import BATCH_SIZE, MiniLM

# (query, relevant passage, hard negative, hard negative)
CASES = [
    (
        "How do I reset my password?",
        "If you forgot your password, click 'Forgot password' on the sign-in page and follow the emailed link.",
        "Passwords must be at least twelve characters long and include a number.",
        "Reset your router by holding the button on its back for ten seconds.",
    ),
    (
        "How long does a refund take?",
        "Refunds reach your card within five to seven business days after we receive the returned item.",
        "Refunds are not available for digital downloads or gift cards.",
        "Delivery usually takes three business days within the country.",
    ),
    (
        "What is the capital of Australia?",
        "Canberra is the capital city of Australia, chosen as a compromise between Sydney and Melbourne.",
        "Sydney is the largest city in Australia and home to its famous opera house.",
        "The capital of Austria is Vienna, on the river Danube.",
    ),
    (
        "Why is the sky blue?",
        "Air molecules scatter short blue wavelengths of sunlight far more than red ones, so the sky looks blue.",
        "The sea often looks blue because water absorbs red light.",
        "Sunsets are red because light crosses more atmosphere when the sun is low.",
    ),
    (
        "How do I boil an egg so the yolk stays soft?",
        "For a runny yolk, lower the egg into boiling water and cook it for six minutes, then cool it in cold water.",
        "Hard-boiled eggs need about ten to twelve minutes in boiling water.",
        "Eggs keep for three to five weeks in the refrigerator.",
    ),
    (
        "Can I bring a dog on the train?",
        "Small dogs travel free on our trains if they stay on a lead or in a carrier.",
        "Bicycles may be taken on trains outside rush hours.",
        "Guide dogs are welcome in all of our restaurants.",
    ),
    (
        "What causes tides?",
        "Tides are caused mainly by the Moon's gravity pulling on the oceans, with a smaller effect from the Sun.",
        "Tsunamis are large waves caused by undersea earthquakes.",
        "The Moon takes about 27 days to orbit the Earth.",
    ),
    (
        "How do I merge two dictionaries in Python?",
        "In Python 3.9 and later, a | b returns a new dict with the keys of both; b's values win on conflicts.",
        "To merge two sorted lists in Python, use heapq.merge.",
        "Python dictionaries keep the order in which keys were inserted.",
    ),
    (
        "What is the boiling point of water at high altitude?",
        "Lower air pressure at altitude makes water boil at a lower temperature, about 90 degrees at 3,000 metres.",
        "Water freezes at zero degrees Celsius at sea level.",
        "At high altitude, the air holds less oxygen, which can cause headaches.",
    ),
    (
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci painted the Mona Lisa in the early sixteenth century.",
        "The Mona Lisa hangs in the Louvre museum in Paris.",
        "Michelangelo painted the ceiling of the Sistine Chapel.",
    ),
    (
        "How often should I water a cactus?",
        "Water a cactus only when its soil has dried out completely, about every two to three weeks in summer.",
        "Ferns like moist soil and should be watered several times a week.",
        "Cacti store water in their thick stems and grow in deserts.",
    ),
    (
        "What is the penalty for paying taxes late?",
        "A late tax payment is charged interest plus a penalty of half a percent of the unpaid tax per month.",
        "Tax returns are due on the fifteenth of April each year.",
        "You can pay your taxes online with a bank transfer.",
    ),
    (
        "How do I cancel my subscription?",
        "To cancel your subscription, open Account settings, choose Billing and click Cancel plan.",
        "Subscriptions renew automatically at the end of each billing period.",
        "You can upgrade your subscription to the yearly plan at any time.",
    ),
    (
        "What should I do if my laptop battery swells?",
        "Stop using a laptop with a swollen battery at once, unplug it and have the battery replaced by a technician.",
        "Laptop batteries last longer if kept between 20 and 80 percent charge.",
        "A swollen ankle should be raised and cooled with ice.",
    ),
    (
        "How many players are on a football team?",
        "A football (soccer) team fields eleven players, one of whom is the goalkeeper.",
        "A basketball team has five players on the court.",
        "The football World Cup is held every four years.",
    ),
    (
        "When does the library open on Sundays?",
        "On Sundays the library is open from noon until five in the afternoon.",
        "Books can be borrowed for three weeks and renewed twice.",
        "The museum is closed on Mondays.",
    ),
    (
        "Is coffee bad for your heart?",
        "Moderate coffee drinking, three to four cups a day, is not linked to higher risk of heart disease.",
        "Coffee beans are the roasted seeds of the coffee plant.",
        "Regular exercise strengthens the heart muscle.",
    ),
    (
        "How do I change a flat tyre?",
        "Loosen the wheel nuts, jack up the car, swap the flat for the spare and tighten the nuts in a star pattern.",
        "Tyre pressure should be checked once a month.",
        "A flat battery can be started with jump leads from another car.",
    ),
    (
        "What is photosynthesis?",
        "Photosynthesis is how plants turn light, water and carbon dioxide into sugar, releasing oxygen.",
        "Plants take up water through their roots.",
        "Photography uses light to record images on a sensor or film.",
    ),
    (
        "How do I take a screenshot on a Mac?",
        "Press Shift, Command and 3 to capture the whole screen on a Mac, or Shift, Command and 4 to pick an area.",
        "To take a screenshot on Windows, press the Windows key and Print Screen.",
        "Mac computers can be restarted from the Apple menu.",
    ),
    (
        "What is the speed of light?",
        "Light travels through a vacuum at about 299,792 kilometres per second.",
        "Sound travels through air at about 343 metres per second.",
        "A light year is the distance light travels in one year.",
    ),
    (
        "Can I get a vaccine while pregnant?",
        "Flu and whooping cough vaccines are recommended during pregnancy to protect mother and baby.",
        "Children get their first vaccines at two months of age.",
        "Pregnant women should avoid raw fish and unpasteurised cheese.",
    ),
    (
        "Where can I park at the airport?",
        "Short-stay parking is next to Terminal 1; the long-stay car park is a five-minute shuttle ride away.",
        "The airport train leaves every fifteen minutes for the city centre.",
        "Parking in the city centre is free after six in the evening.",
    ),
    (
        "How do I remove a red wine stain?",
        "Blot red wine at once, cover it with salt or baking soda, then wash the fabric in cold water.",
        "Red wine is best served slightly below room temperature.",
        "Grease stains come out with a little dish soap before washing.",
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8, help="passes over the passages for the throughput figure")
    rounds = parser.parse_args().rounds

    model = MiniLM()
    started = time.perf_counter()
    model.embed(["warm up"])
    first_call = time.perf_counter() - started
    print(f"load: {model.load_seconds:.2f} s (first call {first_call:.2f} s)")

    passages = [p for case in CASES for p in case[1:]]
    sentences = passages * rounds
    started = time.perf_counter()
    for start in range(0, len(sentences), BATCH_SIZE):
        model.embed(sentences[start : start + BATCH_SIZE])
    elapsed = time.perf_counter() - started
    print(f"throughput: {len(sentences) / elapsed:.0f} sentences/s (batch {BATCH_SIZE}, {len(sentences)} sentences)")

    queries = model.embed([case[0] for case in CASES]).vectors
    corpus = model.embed(passages).vectors
    scores = queries @ corpus.T
    hits = {1: 0, 5: 0}
    for i, row in enumerate(scores):
        relevant = passages.index(CASES[i][1])
        rank = int((row > row[relevant]).sum()) + 1
        for k in hits:
            hits[k] += rank <= k
    n = len(CASES)
    print(f"retrieval: {n} queries over {len(passages)} passages ({2 * n} hard negatives)")
    print(f"recall@1: {hits[1] / n:.2f}  recall@5: {hits[5] / n:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
