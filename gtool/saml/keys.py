"""The catalogue of ``[auth.saml]`` and ``[users]`` keys Grafana reads (saml-reference.md §1, §2.5)."""

from __future__ import annotations

from dataclasses import dataclass

SAML = "auth.saml"
USERS = "users"


@dataclass(frozen=True)
class KeySpec:
    name: str
    kind: str  # bool | duration | list | mapping | b64 | path | url | enum | str | template | int
    default: str  # the SSO-settings strategy default Grafana applies (saml_strategy.go)
    doc_default: str | None = None  # where the docs promise something else
    since: str | None = None  # first Grafana version that reads the key
    summary: str = ""

    @property
    def secret(self) -> bool:
        """Grafana's ``IsSecretField``: these values are encrypted and shown as ``*********``."""
        return any(s in self.name for s in ("secret", "private", "certificate", "password", "client_key"))

    @property
    def json_name(self) -> str:
        """The SSO settings API spelling (strcase.ToLowerCamel)."""
        head, *rest = self.name.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)


NAME_ID_FORMATS = (
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
)
SIGNATURE_ALGORITHMS = ("rsa-sha1", "rsa-sha256", "rsa-sha512")

_SAML_KEYS = (
    KeySpec("enabled", "bool", "false", summary="Enable SAML login"),
    KeySpec("name", "str", "SAML", summary="Label of the login button"),
    KeySpec(
        "entity_id", "str", "", "<root_url>saml/metadata", "11.5", "SP entity ID; must equal the Audience"
    ),
    KeySpec("single_logout", "bool", "false", summary="SAML single logout"),
    KeySpec("allow_sign_up", "bool", "false", "true", summary="Create users on first SAML login"),
    KeySpec("auto_login", "bool", "false", summary="Skip the login page"),
    KeySpec("allow_idp_initiated", "bool", "false", summary="Accept unsolicited (IdP-initiated) responses"),
    KeySpec("relay_state", "str", "", summary="Relay state expected with IdP-initiated logins"),
    KeySpec("certificate", "b64", "", summary="Base64 of the SP certificate PEM"),
    KeySpec("certificate_path", "path", "", summary="Path to the SP certificate PEM"),
    KeySpec("private_key", "b64", "", summary="Base64 of the SP private key PEM (PKCS#8)"),
    KeySpec("private_key_path", "path", "", summary="Path to the SP private key PEM (PKCS#8)"),
    KeySpec("signature_algorithm", "enum", "", summary="Algorithm signing AuthnRequests"),
    KeySpec("idp_metadata", "b64", "", summary="Base64 of the IdP metadata XML"),
    KeySpec("idp_metadata_path", "path", "", summary="Path to the IdP metadata XML"),
    KeySpec("idp_metadata_url", "url", "", summary="URL of the IdP metadata XML"),
    KeySpec("max_issue_delay", "duration", "90s", summary="Maximum age of an assertion's IssueInstant"),
    KeySpec("metadata_valid_duration", "duration", "48h", summary="Validity of the SP metadata"),
    KeySpec(
        "assertion_attribute_name", "template", "", "displayName", summary="Attribute or template for name"
    ),
    KeySpec("assertion_attribute_login", "str", "", "mail", summary="Attribute for the login"),
    KeySpec("assertion_attribute_email", "str", "", "mail", summary="Attribute for the email"),
    KeySpec("assertion_attribute_groups", "str", "", summary="Attribute for team-sync groups"),
    KeySpec("assertion_attribute_role", "str", "", summary="Attribute for role values"),
    KeySpec("assertion_attribute_org", "str", "", summary="Attribute for organization values"),
    KeySpec("assertion_attribute_external_uid", "str", "", "userUID", "11.5", "Attribute linking SCIM users"),
    KeySpec("allowed_organizations", "list", "", summary="Org values of which a user needs one to log in"),
    KeySpec("org_mapping", "mapping", "", summary="External org -> Grafana org[:role] entries"),
    KeySpec("role_values_none", "list", "", since="10.2", summary="Values giving the None role"),
    KeySpec("role_values_viewer", "list", "", since="11.1", summary="Values giving the Viewer role"),
    KeySpec("role_values_editor", "list", "", summary="Values giving the Editor role"),
    KeySpec("role_values_admin", "list", "", summary="Values giving the org Admin role"),
    KeySpec("role_values_grafana_admin", "list", "", summary="Values giving Grafana Admin"),
    KeySpec("skip_org_role_sync", "bool", "false", summary="Do not sync org roles from SAML"),
    KeySpec("name_id_format", "enum", "", NAME_ID_FORMATS[0], summary="Requested NameID format"),
    KeySpec("client_id", "str", "", since="11.2", summary="Entra ID app for Graph API group lookups"),
    KeySpec("client_secret", "str", "", since="11.2", summary="Entra ID app secret"),
    KeySpec("token_url", "url", "", since="11.2", summary="Entra ID token endpoint"),
    KeySpec(
        "force_use_graph_api", "bool", "false", since="11.2", summary="Always fetch groups from Graph API"
    ),
)
SAML_KEYS: dict[str, KeySpec] = {k.name: k for k in _SAML_KEYS}

_USERS_KEYS = (
    KeySpec("auto_assign_org", "bool", "true", summary="Add new users to the default org"),
    KeySpec("auto_assign_org_id", "int", "1", summary="The default org for new users"),
    KeySpec("auto_assign_org_role", "enum", "Viewer", summary="Role when no role value matches"),
)
USERS_KEYS: dict[str, KeySpec] = {k.name: k for k in _USERS_KEYS}

BOOL_KEYS = tuple(k.name for k in _SAML_KEYS if k.kind == "bool")
ROLE_LIST_KEYS = ("role_values_none", "role_values_viewer", "role_values_editor", "role_values_admin")
ROLE_OF_LIST = {
    "role_values_none": "None",
    "role_values_viewer": "Viewer",
    "role_values_editor": "Editor",
    "role_values_admin": "Admin",
}
LIST_KEYS = (*ROLE_LIST_KEYS, "role_values_grafana_admin", "allowed_organizations", "org_mapping")
ATTRIBUTE_KEYS = tuple(k.name for k in _SAML_KEYS if k.name.startswith("assertion_attribute_"))

# Keys seen in docs and blogs that Grafana never reads, with what was meant (saml-reference.md §1, §10).
KNOWN_BAD_KEYS = {
    "metadata_path": ("idp_metadata_path", "an old docs example used it"),
    "asssertion_attribute_groups": ("assertion_attribute_groups", "a typo from the Okta docs"),
    "assertion_attribute_external_id": ("assertion_attribute_external_uid", "some docs pages misspell it"),
    "sp_entity_id": ("entity_id", "a third-party blog name"),
    "single_sign_on_url": ("idp_metadata_url", "the IdP's SSO URL comes from its metadata"),
    "allow_signup": ("allow_sign_up", "the key has an underscore between sign and up"),
    "login_cookie_samesite": (None, "set [security] cookie_samesite instead"),
    "role_attribute_path": ("assertion_attribute_role", "an OAuth key; SAML reads role values"),
    "role_attribute_strict": (None, "an OAuth-only key"),
    "allow_assign_grafana_admin": ("role_values_grafana_admin", "an OAuth key"),
    "org_attribute_path": ("assertion_attribute_org", "an OAuth key"),
    "groups_attribute_path": ("assertion_attribute_groups", "an OAuth key"),
    "allowed_groups": (None, "an OAuth-only key; SAML gates on allowed_organizations"),
    "allowed_domains": (None, "an OAuth-only key"),
    "team_ids": (None, "an OAuth-only key; SAML uses team sync"),
}
