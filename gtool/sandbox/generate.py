"""Large, realistic, deterministic sandbox instances: ``gtool sandbox --users N --orgs M --teams K``.

:func:`generate` builds a :class:`~gtool.sandbox.seed.Seed` from a pseudo-random generator seeded with
``seed``: the same arguments give the same orgs, users, memberships, teams and token keys. Times are
offsets from ``now``, so a sandbox started today shows users "seen 3 hours ago" rather than a frozen date;
pass ``now`` for byte-identical output.

The mix aims at what a Grafana of that size looks like: mostly SAML users, some LDAP, a few local,
Generic OAuth and auth-proxy users, ~3 % disabled, a handful of Grafana Admins, last-seen times skewed
to recent days with a tail over a year (and some never seen), users in 1-5 orgs with mostly Viewer
roles, and teams whose external groups are SAML group names their SAML members carry.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

from gtool.sandbox.seed import (
    MAIN_ORG_ID,
    MAIN_ORG_NAME,
    ORG_ROLES,
    SAML_MODULE,
    Attribute,
    Membership,
    SandboxSettings,
    Seed,
    SeedOrg,
    SeedServiceAccount,
    SeedTeam,
    SeedToken,
    SeedUser,
    make_token,
    utc_now,
)

_T = TypeVar("_T")

# Every generated local user has this password, so any of them can sign in with basic auth. One shared
# password lets a store hash it once (with one salt) instead of 100,000 times.
GENERATED_PASSWORD = "sandbox-password"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"  # Grafana's default first user

# auth module -> weight (percent). None is a local user.
_MODULES: Sequence[str | None] = (SAML_MODULE, "ldap", None, "oauth_generic_oauth", "authproxy")
_MODULE_WEIGHTS = (55, 20, 15, 7, 3)
_ORGS_PER_USER = (1, 2, 3, 4, 5)
_ORGS_PER_USER_WEIGHTS = (50, 25, 13, 7, 5)
_ROLE_WEIGHTS = (3, 60, 30, 7)  # ORG_ROLES order: None, Viewer, Editor, Admin
_IN_MAIN_ORG = 0.7
_DISABLED = 0.03
_GRAFANA_ADMIN = 0.003
_NEVER_SEEN = 0.04
_DAY = 86400

# Okta-style group names, the same as samples/okta/grafana.ini's role_values_*.
GROUP_EVERYONE = "Everyone"
GROUP_EDITORS = "Grafana Editors"
GROUP_ADMINS = "Grafana Admins"
GROUP_SERVER_ADMINS = "Grafana Server Admins"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Ada Alan Alice Amara Ana Andrea Anton Arjun Astrid Ben Bianca Bruno Carla Carlos Chen Chloé Chris "
    "Clara Dana Daniel David Diego Dmitri Elena Elif Emma Eric Eva Fatima Felix Fiona François Freya "
    "Gabriel Grace Hana Hannah Hugo Ian Ingrid Isabel Ivan Jack James Jana Javier Jin Joana Johan José "
    "Julia Kai Karim Kate Kenji Lars Laura Leila Leo Liam Lina Luca Lucía Maja Marco Maria Mateo Maya "
    "Mei Mia Mohammed Nadia Nina Noah Nora Olga Omar Oscar Paula Pedro Priya Rafael Rania Ravi Rosa "
    "Ryan Sara Sebastian Sofia Sven Tariq Thomas Tomás Uma Victor Wei Yara Yusuf Zoë Zofia"
)
_LAST = _words(
    "Abbott Adeyemi Agarwal Alvarez Andersen Becker Bernard Brown Castro Chen Costa Dubois Eriksson "
    "Fernández Fischer Fontaine García Gonzalez Gupta Hansen Hernández Hoffmann Ivanova Jansen Johnson "
    "Kim Kowalski Kumar Larsen Laurent Lee Lindqvist López Martin Martínez Meyer Moreau Müller Murphy "
    "Nakamura Nguyen Novak O'Brien Okafor Olsen Patel Pereira Petrov Rossi Santos Schmidt Schneider "
    "Silva Singh Smith Sørensen Suzuki Tanaka Taylor Thompson Wagner Walker Wang Weber Williams Wilson "
    "Wójcik Yamamoto Yilmaz Young Zhang Zimmermann"
)
_DOMAINS = ("example.com", "example.com", "example.com", "corp.example.com", "example.org")
_DEPARTMENTS = (
    "Platform Engineering",
    "Data Science",
    "Customer Success",
    "Payments",
    "Checkout",
    "Search",
    "Mobile",
    "Identity",
    "Security",
    "Observability",
    "Networking",
    "Storage",
    "Billing",
    "Growth",
    "Marketing",
    "Analytics",
    "Finance",
    "Logistics",
    "Support",
    "Infrastructure",
    "Machine Learning",
    "Developer Experience",
    "Site Reliability",
    "Risk",
    "Compliance",
    "Partner Integrations",
    "Media Streaming",
    "Messaging",
    "Recommendations",
    "Fraud Detection",
    "Internal Tools",
    "Hardware",
    "Research",
    "Retail Operations",
    "Travel Booking",
)
_ORG_SUFFIXES = ("", " EU", " US", " APAC", " LATAM", " Staging", " Labs", " Sandbox")
_TEAM_NAMES = (
    "SRE",
    "Backend",
    "Frontend",
    "On-Call",
    "Data Platform",
    "Database Admins",
    "Release Managers",
    "API",
    "Mobile",
    "QA",
    "Security Champions",
    "Dashboards Owners",
    "Incident Commanders",
    "Capacity Planning",
    "Analytics",
    "Core Services",
    "Edge",
    "Observability",
)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


_UID_FIRST = "abcdef"


def generate(
    users: int = 1000,
    orgs: int = 10,
    teams: int = 20,
    seed: int = 42,
    *,
    now: dt.datetime | None = None,
    sandbox: SandboxSettings | None = None,
) -> Seed:
    """A deterministic seed of ``users`` users (``admin`` included), ``orgs`` orgs (``Main Org.`` included)
    and ``teams`` teams; ``seed`` picks the instance, ``now`` anchors the times (default: the current time).
    """
    if users < 1 or orgs < 1 or teams < 0:
        raise ValueError("need users >= 1 (admin is one of them), orgs >= 1 (Main Org. is one), teams >= 0")
    settings = sandbox or SandboxSettings()
    if settings.cloud and orgs != 1:
        raise ValueError("a Grafana Cloud sandbox has a single org: use orgs=1")
    # Everything built here is acyclic: garbage collections during the build only cost time (~25 %).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(random.Random(seed), now or utc_now(), settings).run(users, orgs, teams, seed)
    finally:
        if was_enabled:
            gc.enable()


class _Generator:
    def __init__(self, rng: random.Random, now: dt.datetime, settings: SandboxSettings) -> None:
        self.rng = rng
        self.now = now
        self.settings = settings
        self.memberships: dict[tuple[int, str], Membership] = {}
        self.taken_logins: set[str] = set()
        self.taken_emails: set[str] = set()
        self.next_number: dict[str, int] = {}
        self.other_orgs: list[SeedOrg] = []
        self.other_cum: list[float] = []

    def run(self, n_users: int, n_orgs: int, n_teams: int, seed: int) -> Seed:
        orgs = self.orgs(n_orgs)
        drafts = [self.admin()] + [self.user() for _ in range(n_users - 1)]
        members = self.ensure_admins(drafts, orgs)
        teams = self.teams(n_teams, orgs, members, drafts)
        return Seed(
            orgs=tuple(orgs),
            users=tuple(self.freeze(d) for d in drafts),
            teams=teams,
            service_accounts=self.service_accounts(orgs),
            sandbox=self.settings,
            source=f"generated: users={n_users} orgs={n_orgs} teams={n_teams} seed={seed}",
        )

    # -- orgs ------------------------------------------------------------------------------------------

    def orgs(self, count: int) -> list[SeedOrg]:
        names = [d + s for s in _ORG_SUFFIXES for d in _DEPARTMENTS]
        self.rng.shuffle(names)
        extra = 2
        while len(names) < count - 1:  # more orgs than combinations: number the rest
            names.extend(f"{d} {extra}" for d in _DEPARTMENTS)
            extra += 1
        self.other_orgs = [SeedOrg(id=i + 2, name=name) for i, name in enumerate(names[: count - 1])]
        # Beyond Main Org., a long tail: a few big orgs, many small ones.
        self.other_cum = _cumulative([1.0 / (rank**0.8) for rank in range(1, count)])
        return [SeedOrg(id=MAIN_ORG_ID, name=MAIN_ORG_NAME), *self.other_orgs]

    # -- users -----------------------------------------------------------------------------------------

    def admin(self) -> _Draft:
        d = _Draft(ADMIN_LOGIN, "admin@localhost", "", None)
        d.password = ADMIN_PASSWORD
        d.is_grafana_admin = True
        d.created = self.now - dt.timedelta(days=730)
        d.last_seen = self.now - dt.timedelta(minutes=1)
        d.orgs = {MAIN_ORG_ID: "Admin"}
        d.uid = self.uid()
        self.taken_logins.add(ADMIN_LOGIN)
        self.taken_emails.add("admin@localhost")
        return d

    def user(self) -> _Draft:
        rng = self.rng
        first, last = rng.randrange(len(_FIRST)), rng.randrange(len(_LAST))
        module = _pick(rng, _MODULES, _MODULE_CUM)
        base = f"{_FIRST_ASCII[first]}.{_LAST_ASCII[last]}"
        email = self.unique(f"{base}@{rng.choice(_DOMAINS)}", self.taken_emails)
        login = (
            email if module in (SAML_MODULE, "oauth_generic_oauth") else self.unique(base, self.taken_logins)
        )
        self.taken_logins.add(login)
        d = _Draft(login, email, f"{_FIRST[first]} {_LAST[last]}", module)
        d.uid = self.uid()
        d.is_disabled = rng.random() < _DISABLED
        d.is_grafana_admin = module in (None, SAML_MODULE, "ldap") and rng.random() < _GRAFANA_ADMIN
        d.password = GENERATED_PASSWORD if module is None else None
        d.auth_id = self.auth_id(module, login, email)
        self.times(d)
        self.join_orgs(d)
        if module == SAML_MODULE:
            d.team_groups = []
        return d

    def unique(self, value: str, taken: set[str]) -> str:
        """``value``, or ``value`` with a number before the ``@`` when it is taken (jane.doe2@…)."""
        if value not in taken:
            taken.add(value)
            return value
        local, at, domain = value.partition("@")
        n = self.next_number.get(value, 2)
        while f"{local}{n}{at}{domain}" in taken:
            n += 1
        self.next_number[value] = n + 1
        found = f"{local}{n}{at}{domain}"
        taken.add(found)
        return found

    def auth_id(self, module: str | None, login: str, email: str) -> str:
        if module == "ldap":
            return f"cn={login},ou=people,dc=example,dc=com"
        if module == SAML_MODULE:
            return email
        if module == "oauth_generic_oauth":
            return str(self.rng.randrange(10**8, 10**9))
        return login if module else ""

    def uid(self) -> str:
        # A letter a-f then 13 hex digits: the shape of Grafana's short uids, cheap to make 100,000 of.
        return f"{_UID_FIRST[self.rng.randrange(6)]}{self.rng.getrandbits(52):013x}"

    def times(self, d: _Draft) -> None:
        rng = self.rng
        r = rng.random()
        if r < _NEVER_SEEN:
            # Accounts made ahead of a first login (an admin, an invite, an LDAP sync) that never came.
            d.created = self.now - dt.timedelta(seconds=int(rng.uniform(0, 60 * _DAY)))
            d.last_seen = None
            return
        if d.is_disabled:
            ago = rng.uniform(90 * _DAY, 365 * _DAY)
        elif r < 0.55:
            ago = rng.uniform(0, 7 * _DAY)
        elif r < 0.85:
            ago = rng.uniform(7 * _DAY, 90 * _DAY)
        else:
            ago = rng.uniform(90 * _DAY, 365 * _DAY)
        d.last_seen = self.now - dt.timedelta(seconds=int(ago))
        d.created = d.last_seen - dt.timedelta(seconds=int(rng.uniform(0, 3 * 365 * _DAY)))

    def join_orgs(self, d: _Draft) -> None:
        rng = self.rng
        others = self.other_orgs
        want = _pick(rng, _ORGS_PER_USER, _ORGS_PER_USER_CUM)
        chosen: dict[int, str] = {}
        if rng.random() < _IN_MAIN_ORG or not others:
            chosen[MAIN_ORG_ID] = _pick(rng, ORG_ROLES, _ROLE_CUM)
        want = min(want, len(others) + len(chosen))
        while len(chosen) < want:
            org_id = others[bisect_right(self.other_cum, rng.random() * self.other_cum[-1])].id
            if org_id not in chosen:
                chosen[org_id] = _pick(rng, ORG_ROLES, _ROLE_CUM)
        d.orgs = chosen

    def groups(self, d: _Draft, team_groups: list[str]) -> tuple[str, ...]:
        """The Okta groups of a SAML user: those behind their roles, then their teams' groups."""
        groups = [GROUP_EVERYONE]
        roles = set(d.orgs.values())
        if "Admin" in roles:
            groups.append(GROUP_ADMINS)
        elif "Editor" in roles:
            groups.append(GROUP_EDITORS)
        if d.is_grafana_admin:
            groups.append(GROUP_SERVER_ADMINS)
        return (*groups, *team_groups)

    def ensure_admins(self, drafts: list[_Draft], orgs: list[SeedOrg]) -> dict[int, list[int]]:
        """Every org gets an Admin, as in Grafana, where an org can never lose its last one: the first
        member of an org without one is promoted; an empty org gets ``admin``, who created it."""
        members: dict[int, list[int]] = {org.id: [] for org in orgs}
        admins: set[int] = set()
        for i, d in enumerate(drafts):
            for org_id, role in d.orgs.items():
                members[org_id].append(i)
                if role == "Admin":
                    admins.add(org_id)
        for org_id, who in members.items():
            if org_id in admins:
                continue
            if who:
                drafts[who[0]].orgs[org_id] = "Admin"
            else:
                drafts[0].orgs[org_id] = "Admin"
                who.append(0)
        return members

    # -- teams -----------------------------------------------------------------------------------------

    def teams(
        self, count: int, orgs: list[SeedOrg], members: dict[int, list[int]], drafts: list[_Draft]
    ) -> tuple[SeedTeam, ...]:
        rng = self.rng
        out: list[SeedTeam] = []
        names: set[tuple[int, str]] = set()
        # Bigger orgs have more teams.
        by_size = _cumulative([len(members[org.id]) for org in orgs])
        for _ in range(count):
            org = _pick(rng, orgs, by_size)
            name = rng.choice(_TEAM_NAMES)
            n = 2
            while (org.id, name) in names:
                name = f"{rng.choice(_TEAM_NAMES)} {n}"
                n += 1
            names.add((org.id, name))
            pool = members[org.id]
            size = min(len(pool), max(1, int(rng.paretovariate(1.2) * 3)), 60)
            chosen = [drafts[i] for i in rng.sample(pool, size)]
            admins = tuple(d.login for d in chosen[: rng.choice((0, 1, 1, 2))])
            groups: tuple[str, ...] = ()
            if rng.random() < 0.7:  # most teams are team-synced from an Okta group
                group = name if org.id == MAIN_ORG_ID else f"{org.name} {name}"
                groups = (group,)
                for d in chosen:
                    if d.team_groups is not None:
                        d.team_groups.append(group)
            slug = "-".join(_ascii(w) for w in name.split()) or "team"
            out.append(
                SeedTeam(
                    org_id=org.id,
                    name=name,
                    email=f"{slug}@example.com",
                    uid=self.uid(),
                    members=tuple(d.login for d in chosen),
                    admins=admins,
                    external_groups=groups,
                )
            )
        return tuple(out)

    # -- service accounts ------------------------------------------------------------------------------

    def service_accounts(self, orgs: list[SeedOrg]) -> tuple[SeedServiceAccount, ...]:
        specs = [(orgs[0], "provisioning", "Admin", "provisioning")]
        if len(orgs) > 1:
            specs.append((orgs[1], "dashboards-reader", "Viewer", "reader"))
        return tuple(
            SeedServiceAccount(
                org_id=org.id,
                name=name,
                role=role,
                tokens=(
                    SeedToken(name=token, key=make_token(self.settings.token_seed, org.id, name, token)),
                ),
            )
            for org, name, role, token in specs
        )

    # -- freezing --------------------------------------------------------------------------------------

    def freeze(self, d: _Draft) -> SeedUser:
        cache = self.memberships
        memberships = []
        for org_id, role in d.orgs.items():
            m = cache.get((org_id, role))
            if m is None:
                m = cache[org_id, role] = Membership(org_id=org_id, role=role)
            memberships.append(m)
        return SeedUser(
            login=d.login,
            email=d.email,
            name=d.name,
            uid=d.uid,
            password=d.password,
            auth_module=d.module,
            auth_id=d.auth_id,
            is_grafana_admin=d.is_grafana_admin,
            is_disabled=d.is_disabled,
            created=d.created,
            last_seen=d.last_seen,
            memberships=tuple(memberships),
            current_org_id=next(iter(d.orgs), 0),
            saml_attributes=self.attributes(d),
        )

    def attributes(self, d: _Draft) -> tuple[Attribute, ...]:
        if d.team_groups is None:
            return ()
        return (Attribute(name="groups", values=self.groups(d, d.team_groups)),)


class _Draft:
    """A user while it is being generated: mutable, unlike SeedUser, because teams add groups later."""

    __slots__ = (
        "auth_id",
        "created",
        "email",
        "is_disabled",
        "is_grafana_admin",
        "last_seen",
        "login",
        "module",
        "name",
        "orgs",
        "password",
        "team_groups",
        "uid",
    )

    def __init__(self, login: str, email: str, name: str, module: str | None) -> None:
        self.login = login
        self.email = email
        self.name = name
        self.module = module
        self.uid = ""
        self.password: str | None = None
        self.auth_id = ""
        self.is_grafana_admin = False
        self.is_disabled = False
        self.created = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.last_seen: dt.datetime | None = None
        self.orgs: dict[int, str] = {}
        self.team_groups: list[str] | None = None  # SAML users only


def _pick(rng: random.Random, items: Sequence[_T], cum_weights: Sequence[float]) -> _T:
    """``rng.choices(items, cum_weights=…)[0]`` without its per-call overhead (same distribution)."""
    return items[bisect_right(cum_weights, rng.random() * cum_weights[-1])]


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


_FIRST_ASCII = tuple(_ascii(n) for n in _FIRST)
_LAST_ASCII = tuple(_ascii(n) for n in _LAST)
_MODULE_CUM = _cumulative(_MODULE_WEIGHTS)
_ORGS_PER_USER_CUM = _cumulative(_ORGS_PER_USER_WEIGHTS)
_ROLE_CUM = _cumulative(_ROLE_WEIGHTS)
