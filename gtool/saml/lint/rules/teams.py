"""Team sync rules (saml-reference.md §4, §10 TEAM-001; TEAM-002/003 need an assertion or a team list)."""

from __future__ import annotations

from collections.abc import Iterator

from gtool.saml.lint.context import Finding, LintContext
from gtool.saml.lint.registry import Severity, rule


@rule("TEAM-001", "team-sync-disabled", Severity.INFO)
def team_sync_disabled(ctx: LintContext) -> Iterator[Finding]:
    """SAML is enabled without `assertion_attribute_groups`, so team sync is off.

    ## What it does
    Notes enabled SAML with no `assertion_attribute_groups`.

    ## Why is this bad?
    Team sync adds SAML users to the Grafana teams whose External group ID matches one of their
    groups. Without the groups attribute Grafana reads no groups: team memberships are not synced,
    and a team's External group sync tab has no effect for SAML users. Fine if you do not use teams.

    ## Example
    ```ini
    [auth.saml]
    enabled = true
    ```

    ## Use instead
    ```ini
    [auth.saml]
    enabled = true
    assertion_attribute_groups = groups
    ```
    """
    if ctx.enabled and not ctx.value("assertion_attribute_groups").strip():
        yield ctx.at(
            ctx.setting("enabled"),
            "SAML is enabled but `assertion_attribute_groups` is empty: team sync is disabled",
            "if you sync teams, set `assertion_attribute_groups` to the assertion attribute carrying the "
            "user's groups (Entra ID: http://schemas.microsoft.com/ws/2008/06/identity/claims/groups)",
        )
