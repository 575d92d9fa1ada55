"""The documents as the portal renders them, from the demo institution, for measuring."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from accounts.invitations import invitation_slip, render_invitation_slips
from accounts.models import Organisation, Role, User
from accounts.selectors import people_waiting_for_invitation
from accounts.services import invitation_issue
from acknowledgements import documents, sheet
from acknowledgements.models import AGREEMENT_CODE, REGULATION_CODE, DocumentVersion
from acknowledgements.selectors import current_version
from acknowledgements.services import acknowledgement_confirm
from onboarding.documents import render_letter
from onboarding.services import request_start, request_update_details
from portal.demo import load_demo
from tests.factories import UserFactory
from tests.helpers import DEMO_PASSWORD

# The longest positions of the institution's staff and of the benchmark's generated staff
# (benchmarks/run_staff.py), capitalised and not, with long names beside them.
LONG_POSITIONS = [
    ("Константинопольская", "Александра", "Вячеславовна", "Педагог дополнительного образования"),
    ("Белозерская", "Маргарита", "Константиновна", "педагог дополнительного образования"),
    ("Абрамова", "Анна", "Ивановна", "концертмейстер"),
    ("Вознесенский", "Ярослав", "Ярославович", "Концертмейстер"),
    ("Покровская", "Елизавета", "Кузьминична", "педагог-организатор"),
    ("Троицкий", "Константин", "Ярославович", "тренер-преподаватель"),
]


def demo_version() -> DocumentVersion:
    return current_version(load_demo(), REGULATION_CODE)


def add_long_positions(organisation: Organisation) -> list[User]:
    return [
        UserFactory(
            organisation=organisation,
            roles=[Role.TEACHER],
            last_name=last,
            first_name=first,
            patronymic=middle,
            position=position,
        )
        for last, first, middle, position in LONG_POSITIONS
    ]


def confirm_online(version: DocumentVersion, username: str = "teacher") -> User:
    """The person confirms online, on the organisation's agreement on the простая электронная
    подпись when it has one (the demo does), accepted first."""
    person = User.objects.get(username=username)
    agreement = current_version(version.document.organisation, AGREEMENT_CODE)
    for each in (agreement, version) if agreement is not None else (version,):
        acknowledgement_confirm(
            version=each, person=person, password=DEMO_PASSWORD, ip_address=None,
            user_agent="test",
        )  # fmt: skip
    return person


def built_sheet(version: DocumentVersion, *, blank: bool = False) -> bytes:
    """The sheet as the portal builds it: its job (run at once in tests) renders the parts and
    joins them, then the stored file is read as the page serves it."""
    sheet.sheet_prepare(version=version, blank=blank, actor=None)
    stored = sheet.stored_sheet(sheet.sheet_lookup(version, blank=blank, fresh=True))
    assert stored is not None
    return stored


def demo_sheet(*, blank: bool = False) -> tuple[DocumentVersion, bytes]:
    """The demo's sheet with the longest positions added and one online confirmation (the
    demo teacher's), built as the portal builds it (in parts, joined)."""
    version = demo_version()
    add_long_positions(version.document.organisation)
    confirm_online(version)
    return version, built_sheet(version, blank=blank)


LETTERHEAD = {
    "address": "625000, г. Тюмень, ул. Примерная, д. 1",
    "phone": "+7 3452 12-34-56",
    "email": "cdt@example.ru",
}


def demo_letter(**letterhead: str) -> bytes:
    """The appointment letter of the demo institution, for its platform administrator."""
    organisation = load_demo()
    for field, value in {**LETTERHEAD, **letterhead}.items():
        setattr(organisation, field, value)
    organisation.save()
    admin = User.objects.get(username="admin")
    registration = request_start(organisation=organisation, actor=admin)
    registration = request_update_details(
        request=registration, actor=admin, full_name=admin.full_name,
        position="педагог дополнительного образования", phone="+79123456789",
    )  # fmt: skip
    return render_letter(registration)[1]


# A real deployment's address: longer than the test server's, so the link has to wrap.
SLIP_BASE_URL = "https://portal.cdt-tyumen.example.ru/"


def demo_slips(count: int = 6, *, time_zone: str = "") -> tuple[list, bytes]:
    """Slips for the first `count` people of the demo, alphabetically, the first of them a
    parent with a long double surname and a long sign-in name."""
    organisation = load_demo()
    if time_zone:
        organisation.time_zone = time_zone
        organisation.save(update_fields=["time_zone"])
    UserFactory(
        organisation=organisation, roles=[Role.PARENT],
        last_name="Аксёнова-Константинопольская", first_name="Александра",
        patronymic="Вячеславовна", username="aksenova-konstantinopolskaya.av",
    )  # fmt: skip
    admin = User.objects.get(username="admin")
    # Those the administrator may invite (never the director: tests/trust/).
    people = people_waiting_for_invitation(admin).order_by("last_name", "pk")[:count]
    issued = [
        invitation_issue(user=person, actor=admin, base_url=SLIP_BASE_URL) for person in people
    ]
    return issued, render_invitation_slips([invitation_slip(item) for item in issued])[1]


# --- the order's text, block by block ----------------------------------------------------------


@dataclass
class Block:
    """A paragraph, a heading or a list item of the order's text, as its HTML has it."""

    kind: str  # "p", "h2", "li"
    text: str = ""
    list_index: int | None = None  # which list of the text an item belongs to


class _Blocks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.blocks: list[Block] = []
        self.lists = -1
        self.depth = 0  # inside a list
        self.current: Block | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("ul", "ol"):
            self.lists += 1
            self.depth += 1
        elif tag == "li":
            self.current = Block("li", list_index=self.lists)
            self.blocks.append(self.current)
        elif tag in ("p", "h1", "h2", "h3") and not self.depth:
            self.current = Block(tag)
            self.blocks.append(self.current)

    def handle_endtag(self, tag):
        if tag in ("ul", "ol"):
            self.depth -= 1

    def handle_data(self, data):
        if self.current is not None:
            self.current.text += data


def text_blocks(text_html: str) -> list[Block]:
    parser = _Blocks()
    parser.feed(text_html)
    return [block for block in parser.blocks if block.text.strip()]


def order_text_html(version: DocumentVersion) -> str:
    return documents.order_context(version)["text_html"]
