"""The customer directory: numbers, mail domains, contacts by role, and the plan they prove.

Issue 16: "the plan is checked against a customer number or the contact's
e-mail domain in the directory, not the typed company name alone", and the
extended escalation reaches "Führungspersonen beider Unternehmen sowie die
betroffenen Fachkräfte" (``[customers.roles]``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.sla import Customer, CustomerRoles, Plan, PolicyError, SlaPolicy

SHIPPED = resources.files("domain.policies").joinpath("myconvento.toml").read_text("utf-8")


@dataclass(frozen=True)
class Claim:
    """What a report says about its sender (``IncidentReport`` has the same attributes)."""

    customer_number: str | None = None
    email: str | None = None
    company: str | None = None


PREMIUM = {
    "company": "Beispiel Versand GmbH",
    "customer_number": "K-10001",
    "plan": "premium",
    "domains": ["beispiel-versand.de", "Versand.Beispiel.DE"],
    "contacts": ["it@beispiel-versand.de"],
    "roles": {
        "it": ["admin@beispiel-versand.de"],
        "management": ["GF@beispiel-versand.de"],
    },
}
STANDARD = {
    "company": "Kleinbetrieb KG",
    "customer_number": "K-20002",
    "domains": ["kleinbetrieb.example"],
    "contacts": ["info@kleinbetrieb.example"],
}


def directory(*customers: dict[str, Any], hotline: str | None = "+49 (0)2131-200900") -> SlaPolicy:
    data = tomllib.loads(SHIPPED)
    data["customers"] = list(customers)
    data["support"] = {} if hotline is None else {"hotline": hotline}
    return SlaPolicy.from_mapping(data, source="test policy")


POLICY = directory(PREMIUM, STANDARD)


# -- loading -------------------------------------------------------------------------


def test_the_new_directory_fields_load_from_toml() -> None:
    text = SHIPPED.split("[[customers]]", 1)[0] + (
        "[[customers]]\n"
        'company = "Nordlicht Handel KG"\n'
        'customer_number = " K-30003 "\n'
        'plan = "premium"\n'
        'domains = ["Nordlicht-Handel.de", "xn--bcher-kva.de", "bücher.de"]\n'
        'contacts = ["edv@nordlicht-handel.de"]\n'
        "[customers.roles]\n"
        'it = ["admin@nordlicht-handel.de"]\n'
        'management = ["chefin@nordlicht-handel.de"]\n'
    )
    policy = SlaPolicy.from_toml(text)
    entry = policy.customers[0]
    assert entry.customer_number == "K-30003"
    # Lower-cased, IDNA form (as addresses keep their domain), repeats dropped.
    assert entry.domains == ("nordlicht-handel.de", "xn--bcher-kva.de")
    assert entry.roles == CustomerRoles(
        it=("admin@nordlicht-handel.de",), management=("chefin@nordlicht-handel.de",)
    )
    assert entry.all_contacts == (
        "edv@nordlicht-handel.de",
        "admin@nordlicht-handel.de",
        "chefin@nordlicht-handel.de",
    )


def test_a_directory_entry_of_the_old_format_still_loads() -> None:
    head, _, rest = SHIPPED.split("[[customers]]", 1)[0].partition("[support]")
    old_head = head + rest[rest.index("[contacts]") :]  # no [support] section either
    text = old_head + (
        "[[customers]]\n"
        'company = "Beispiel Versand GmbH"\n'
        'plan = "premium"\n'
        'contacts = ["it@beispiel-versand.de"]\n'
    )
    entry = SlaPolicy.from_toml(text).customers[0]
    assert entry == Customer(
        company="Beispiel Versand GmbH", plan=Plan.PREMIUM, contacts=("it@beispiel-versand.de",)
    )
    assert entry.customer_number is None and entry.domains == () and entry.roles == CustomerRoles()
    assert entry.all_contacts == ("it@beispiel-versand.de",)


def test_a_policy_snapshot_of_the_old_format_reads_back() -> None:
    # Workflow inputs carry the policy as it was: no [support], no numbers or roles.
    data = SlaPolicy.default().model_dump(mode="json", by_alias=True)
    del data["support"]
    data["customers"] = [
        {"company": "Beispiel Versand GmbH", "plan": "premium", "contacts": ["it@b.de"]}
    ]
    old = SlaPolicy.model_validate(data)
    assert old.support.hotline is None
    assert old.hotline_for(Claim(email="erika@b.de", company="Beispiel Versand GmbH")) is None


def test_the_shipped_policy_names_the_slas_hotline() -> None:
    # The SLA: "rufen Sie bitte die Convento Zentrale unter +49(0)2131-200900 an".
    assert SlaPolicy.default().support.hotline == "+49 (0)2131-200900"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domains": ["beispiel-versand"]}, "customers.0.domains.0"),
        ({"domains": ["erika@beispiel-versand.de"]}, "without local part or @"),
        ({"domains": ["gmail.com"]}, "public mail service"),
        ({"customer_number": "K 1\n2"}, "customers.0.customer_number"),
        ({"customer_number": "-K1"}, "not a customer number"),
        ({"customer_number": "K" * 41}, "at most 40"),
        ({"roles": {"it": ["nobody"]}}, "customers.0.roles.it.0"),
        ({"roles": {"board": ["gf@beispiel-versand.de"]}}, "customers.0.roles.board"),
    ],
    ids=[
        "domain-without-dot",
        "address-as-domain",
        "public-mail",
        "number-line-break",
        "number-shape",
        "number-long",
        "bad-role-address",
        "unknown-role",
    ],
)
def test_a_bad_directory_entry_is_refused_naming_the_key(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        directory({**PREMIUM, **change})


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"customer_number": "k 10001"}, "customer number listed twice: k10001"),
        ({"domains": ["BEISPIEL-VERSAND.DE"]}, "domain listed for two customers"),
    ],
)
def test_a_number_or_domain_of_two_customers_is_refused(
    second: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        directory(PREMIUM, {**STANDARD, **second})


# -- the plan ------------------------------------------------------------------------


def test_the_customer_number_proves_the_plan() -> None:
    assert POLICY.plan_for(Claim(customer_number="K-10001")) is Plan.PREMIUM
    assert POLICY.plan_for(Claim(customer_number="K-20002")) is Plan.STANDARD
    assert POLICY.plan_for(Claim(customer_number="K-99999")) is Plan.STANDARD


def test_the_reporters_mail_domain_proves_the_plan() -> None:
    assert POLICY.plan_for(Claim(email="erika@beispiel-versand.de")) is Plan.PREMIUM
    assert POLICY.plan_for(Claim(email="erika@versand.beispiel.de")) is Plan.PREMIUM
    assert POLICY.plan_for(Claim(email="info@kleinbetrieb.example")) is Plan.STANDARD
    # A subdomain is another domain: only listed domains count.
    assert POLICY.plan_for(Claim(email="erika@mail.beispiel-versand.de")) is Plan.STANDARD
    # A look-alike ending is no match either.
    assert POLICY.plan_for(Claim(email="erika@evilbeispiel-versand.de")) is Plan.STANDARD


def test_the_typed_company_name_alone_never_grants_premium() -> None:
    claim = Claim(company="Beispiel Versand GmbH", email="erika@freemail.example")
    assert POLICY.customer_for(claim) is not None  # it names the customer ...
    assert POLICY.plan_for(claim) is Plan.STANDARD  # ... and proves nothing
    assert POLICY.hotline_for(claim) is None
    assert POLICY.plan_for(Claim(company="Beispiel Versand GmbH")) is Plan.STANDARD


def test_either_proof_is_enough() -> None:
    # A standard customer's number and a premium customer's domain: the domain proves premium.
    claim = Claim(customer_number="K-20002", email="erika@beispiel-versand.de")
    assert POLICY.plan_for(claim) is Plan.PREMIUM


def test_the_hotline_is_named_for_premium_customers_only() -> None:
    assert POLICY.hotline_for(Claim(customer_number="K-10001")) == "+49 (0)2131-200900"
    assert POLICY.hotline_for(Claim(email="info@kleinbetrieb.example")) is None
    assert POLICY.hotline_for(Claim()) is None
    unset = directory(PREMIUM, hotline=None)
    assert unset.hotline_for(Claim(customer_number="K-10001")) is None


def test_the_directory_entry_is_found_by_number_then_domain_then_name() -> None:
    number_and_other_domain = Claim(
        customer_number="K-20002", email="erika@beispiel-versand.de", company="Beispiel"
    )
    assert POLICY.customer_for(number_and_other_domain).company == "Kleinbetrieb KG"  # type: ignore[union-attr]
    by_domain = Claim(email="x@kleinbetrieb.example", company="Beispiel Versand GmbH")
    assert POLICY.customer_for(by_domain).company == "Kleinbetrieb KG"  # type: ignore[union-attr]
    by_name = Claim(email="x@elsewhere.example", company=" beispiel versand gmbh ")
    assert POLICY.customer_for(by_name).company == "Beispiel Versand GmbH"  # type: ignore[union-attr]
    assert POLICY.verified_customer(by_name) is None
    assert POLICY.customer_for(Claim(email="x@elsewhere.example")) is None


_SEPARATORS = st.sampled_from(["", "-", " ", ".", "/", "_"])


@given(
    domain=st.sampled_from(["beispiel-versand.de", "versand.beispiel.de"]),
    flips=st.lists(st.booleans(), min_size=30, max_size=30),
    local=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}[a-z0-9]", fullmatch=True),
)
def test_the_domain_compares_case_insensitively(domain: str, flips: list[bool], local: str) -> None:
    cased = "".join(c.upper() if flip else c for c, flip in zip(domain, flips, strict=False))
    claim = Claim(email=f"{local}@{cased}")
    assert POLICY.plan_for(claim) is Plan.PREMIUM
    assert POLICY.customer_for(claim).company == "Beispiel Versand GmbH"  # type: ignore[union-attr]


@given(upper=st.booleans(), separator=_SEPARATORS)
def test_the_customer_number_compares_without_case_or_separators(
    upper: bool, separator: str
) -> None:
    number = f"k{separator}10001"
    assert POLICY.plan_for(Claim(customer_number=number.upper() if upper else number)) is (
        Plan.PREMIUM
    )


@given(company=st.text(min_size=1, max_size=40), email_local=st.from_regex(r"[a-z]{1,10}"))
def test_no_company_name_from_a_foreign_domain_is_premium(company: str, email_local: str) -> None:
    claim = Claim(company=company, email=f"{email_local}@elsewhere.example")
    assert POLICY.plan_for(claim) is Plan.STANDARD
