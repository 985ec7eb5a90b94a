"""What `gtool saml explain` computes, shared by the CLI and the TUI's SAML tools: the config read as
Grafana reads it, the assertion whose attributes a login would use, and the simulated login merged with
the lint findings of the config and the assertion.

Headless like the rest of `gtool.saml`: no click, no textual, no network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gtool.saml import ini, settings
from gtool.saml.assertion import Attribute
from gtool.saml.inputs import InputError, LoadedMessage
from gtool.saml.lint import Diagnostic, LintOptions, lint_ini
from gtool.saml.mapping import Assumptions, Outcome, simulate

NO_ASSUMPTIONS = Assumptions()
"""The documented defaults (frozen: one shared instance is safe)."""


def read_config(path: str, opts: LintOptions) -> tuple[ini.IniFile, settings.GrafanaConfig]:
    """The one grafana.ini of explain/test, layered with the options' defaults, env and SSO record.

    Raises :class:`gtool.saml.ini.IniReadError` when the file cannot be read as text.
    """
    file = ini.read_file(path)
    base = opts.homepath or Path(path).parent
    cfg = settings.load(
        [file], defaults=opts.defaults, env=opts.env, cli_args=opts.cli_args, sso=opts.sso, base_dir=base
    )
    return file, cfg


def assertion_attributes(loaded: LoadedMessage) -> tuple[Attribute, ...]:
    """The attributes of the assertion Grafana would read; :class:`InputError` says why there is none."""
    first = loaded.response.assertion
    if first is not None:
        return first.attributes
    r = loaded.response
    if r.rejected:
        raise InputError(
            f"{loaded.source}: no assertion is covered by a valid signature: Grafana would refuse it",
            "`gtool saml inspect` with the same options shows why; without --idp-cert/--idp-metadata "
            "explain reads the message unverified",
        )
    if r.encrypted_assertions:
        raise InputError(
            f"{loaded.source}: the assertion is encrypted", "pass Grafana's SP key with --sp-key KEY.pem"
        )
    raise InputError(
        f"{loaded.source}: the response holds no assertion", "check the capture with gtool saml inspect"
    )


@dataclass(frozen=True)
class Explanation:
    """A simulated login and the lint findings of the config (and assertion) it ran on."""

    outcome: Outcome
    findings: list[Diagnostic]

    def to_json(self) -> dict[str, Any]:
        """The ``gtool saml explain --format json`` document."""
        doc = self.outcome.to_json()
        # The lint rules and the simulator can see the same problem (a missing attribute): keep one of
        # each, the lint rule's, which points at the config line.
        merged = [d.to_json() | {"path": d.path} for d in self.findings]
        seen = {(d["code"], d["key"]) for d in merged}
        merged += [d for d in doc.get("diagnostics", []) if (d["code"], d["key"]) not in seen]
        doc["diagnostics"] = merged
        return doc


def explain(
    file: ini.IniFile,
    cfg: settings.GrafanaConfig,
    attributes: Sequence[Attribute],
    opts: LintOptions,
    *,
    loaded: LoadedMessage | None = None,
    assumptions: Assumptions = NO_ASSUMPTIONS,
    user_exists: bool | None = None,
) -> Explanation:
    """Simulate the login with ``opts``' orgs, teams and Grafana version, and lint the config against
    the assertion (``opts.now`` judges its validity window)."""
    outcome = simulate(
        cfg,
        attributes,
        orgs=opts.orgs,
        teams=opts.teams,
        assumptions=assumptions,
        grafana_version=opts.grafana_version,
        user_exists=user_exists,
    )
    if loaded is not None:
        opts = dataclasses.replace(opts, assertion=loaded.response, assertion_path=loaded.source)
    findings, _ = lint_ini(file, opts, raise_crashes=False)
    return Explanation(outcome, findings)
