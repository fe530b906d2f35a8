"""`--seed demo`: a realistic nonprofit SFMC account to click through.

Folders (root "Data Extensions", CustomerKey dataextension_default, ParentFolder 0):
Fundraising / Appeals, Fundraising / Major Gifts, Events, Shared, Archive. DEs with rows in some of
them, so the category dropdown, the fallback to existing DEs' folders and the "DE already exists"
paths have data.
"""

from __future__ import annotations

import random

from simulator.fields import SimField
from simulator.send_rules import SendSetup
from simulator.state import SimDE, Tenant

FIRST = ["Ana", "Bjorn", "Chloé", "Dmitri", "Émile", "Fatima", "Grace", "Hiro", "Ines", "José",
         "Kwame", "Lena", "Mateo", "Nora", "Oğuz", "Priya", "Quinn", "Renée", "Sven", "Zoë"]  # fmt: skip
LAST = ["Álvarez", "Brown", "Chen", "Dubois", "Evans", "García", "Hansen", "Ivanova", "Jones",
        "Kowalski", "Lee", "Müller", "Nguyen", "O'Brien", "Patel", "Rossi", "Smith", "Tanaka"]  # fmt: skip


def _donor_fields() -> list[SimField]:
    return [
        SimField("SubscriberKey", "Text", 254, is_primary_key=True, is_required=True),
        SimField("Email", "EmailAddress", 254, is_required=True),
        SimField("FirstName", "Text", 100),
        SimField("LastName", "Text", 100),
        SimField("LastGiftAmount", "Decimal", precision=18, scale=2),
        SimField("LastGiftDate", "Date"),
        SimField("OptIn", "Boolean", default_value="False"),
    ]


def _donor_rows(rng: random.Random, n: int, prefix: str) -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append({
            "SubscriberKey": f"{prefix}{i:05d}",
            "Email": f"{first.lower()}.{i}@example.org".encode("ascii", "ignore").decode(),
            "FirstName": first, "LastName": last,
            "LastGiftAmount": f"{rng.randint(5, 2500)}.{rng.randint(0, 99):02d}",
            "LastGiftDate": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "OptIn": rng.random() < 0.7,
        })  # fmt: skip
    return rows


def apply(tenant: Tenant, name: str) -> None:
    """Seed `tenant` with the named account ("demo")."""
    if name != "demo":
        msg = f"Unknown seed {name!r}; the simulator knows only 'demo'."
        raise ValueError(msg)
    rng = random.Random(20240523)
    with tenant.lock:
        root = tenant.root_folder_id
        fundraising = tenant.add_folder("Fundraising", root, customer_key="fundraising")
        appeals = tenant.add_folder("Appeals", fundraising.id, customer_key="fundraising_appeals")
        major = tenant.add_folder("Major Gifts", fundraising.id, customer_key="fundraising_major")
        events = tenant.add_folder("Events", root, customer_key="events")
        tenant.add_folder("Archive", root, customer_key="archive")
        tenant.add_folder("Shared Data Extensions", 0, customer_key="shared_data_extensions",
                          content_type="shared_dataextension")  # fmt: skip
        shared = tenant.add_folder("Shared", root, customer_key="shared")

        specs = [
            ("Spring Appeal 2024", "spring_appeal_2024", appeals.id, 120, "SA"),
            ("Major Donors", "major_donors", major.id, 40, "MD"),
            ("All Donors Master", "all_donors_master", shared.id, 500, "AD"),
        ]
        for de_name, key, folder, n, prefix in specs:
            sending = SendSetup("SubscriberKey", "Subscriber Key")
            de = tenant.add_de(SimDE(key, de_name, folder, _donor_fields(), sending=sending))
            for row in _donor_rows(rng, n, prefix):
                de.save_row(row, mode="upsert")

        gala = tenant.add_de(SimDE("gala_2024_rsvp", "Gala 2024 RSVPs", events.id, [
            SimField("RSVPId", "Number", is_primary_key=True, is_required=True),
            SimField("Email", "EmailAddress", 254),
            SimField("Guests", "Number"),
            SimField("Phone", "Phone"),
            SimField("Dietary", "Text", 200),
        ]))  # fmt: skip
        for i in range(1, 31):
            gala.save_row({"RSVPId": i, "Email": f"guest{i}@example.org", "Guests": rng.randint(1, 4),
                           "Phone": f"+1 555 010 {1000 + i}", "Dietary": rng.choice(["", "vegan", "none"])},
                          mode="upsert")  # fmt: skip
        tenant.add_de(SimDE("newsletter_signups", "Newsletter Signups", root, [
            SimField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
            SimField("SignedUp", "Date", default_value="Now()"),
            SimField("Source", "Text", 50),
        ]))  # fmt: skip
