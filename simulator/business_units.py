"""Business units (`Realism.business_units`): which MID owns a folder or DE, and who may use it.

With business units on, the API package lives in the child unit (`CHILD_MID`); folders of
content type shared_dataextension (and everything under them) belong to the enterprise parent
(`PARENT_MID`). Over SOAP a shared folder or DE is usable only in the parent's context: the
request's `Client/ID` (Options/Client, an object's Client, or RetrieveRequest/ClientIDs) or the
token's `account_id` is the parent MID [C: soap_tech_articles_de, reference section 10]. A child
sees the shared folders in its folder list (each names its owner in `Client/ID`), so a client
that offers them must send the parent's Client/ID to use them. Without business units every
object is the one unit's and nothing is refused.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from simulator.realism import CHILD_MID, PARENT_MID
from simulator.soapxml import local
from simulator.state import SimDE, Tenant

SHARED = "shared_dataextension"


def request_mid(msg: Element, token_mid: int) -> int:
    """The MID a SOAP request acts in: its first Client/ID (or ClientIDs/ID), else the token's.

    Row values are `<Property><Name>…`, so a `Client` element is always structural.
    """
    for el in msg.iter():
        if local(el.tag) in ("Client", "ClientIDs"):
            for child in el:
                text = (child.text or "").strip()
                if local(child.tag) in ("ID", "ClientID") and text.isdigit():
                    return int(text)
    return token_mid


def folder_mid(tenant: Tenant, folder_id: int | None) -> int:
    """The unit owning a folder: the parent for shared folders (when units are on)."""
    if not tenant.business_units:
        return CHILD_MID
    seen: set[int] = set()
    folder = tenant.folders.get(folder_id) if folder_id is not None else None
    while folder is not None and folder.id not in seen:
        if folder.content_type == SHARED:
            return PARENT_MID
        seen.add(folder.id)
        folder = tenant.folders.get(folder.parent_id)
    return CHILD_MID


def de_mid(tenant: Tenant, de: SimDE) -> int:
    return folder_mid(tenant, de.category_id)


def refused(tenant: Tenant, owner: int, mid: int, what: str) -> bool:
    """Whether a request acting in `mid` may not use an object of `owner`; logs a refusal."""
    if owner != PARENT_MID or mid == PARENT_MID:
        return False
    tenant.log.record("business_unit_refused", object=what, owner=owner, client_id=mid)
    return True


def visible_de(tenant: Tenant, de: SimDE | None, mid: int) -> SimDE | None:
    """`de`, or None when it is the parent's shared DE and the request acts in the child."""
    if de is not None and refused(tenant, de_mid(tenant, de), mid, de.customer_key):
        return None
    return de


def folder_usable(tenant: Tenant, folder_id: int, mid: int) -> bool:
    return not refused(tenant, folder_mid(tenant, folder_id), mid, f"folder {folder_id}")
