"""The end-to-end SSO checks of check_sso_e2e.py, one module per scenario:

  base        the harness: API calls, sign-in, judging responses with the SP
              libraries, setup (directory, apps, exported metadata)
  portal      sign-in, the portal's tiles, TOTP enrollment and the TOTP step
  idp         IdP-initiated SSO, the sign-in detour, moto's STS round trip
  sp          SP-initiated SSO with python3-saml and pysaml2 (both bindings)
  denials     every denial page, and the audit events of it all
  two_nodes   two servers on one PostgreSQL database
"""
