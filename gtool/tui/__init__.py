"""gtool's terminal app (Textual): browse users, orgs and roles, and change them with plan → confirm → apply.

Nothing outside this package imports it; `gtool tui` and `gtool demo` import it on demand, so the SAML
commands never pay for Textual.
"""
