"""Security tests, one module per risk of the OWASP API Security Top 10 (2023) that applies to
Plaza. Each attacks the API the way the risk describes and names, in its docstring, the tests
elsewhere in the suite that already prove part of it, adding only what they leave out.

| risk | module |
| --- | --- |
| API1 Broken Object Level Authorization | test_api1_object_level_authorization.py |
| API2 Broken Authentication | test_api2_authentication.py |
| API3 Broken Object Property Level Authorization | test_api3_object_property_authorization.py |
| API4 Unrestricted Resource Consumption | test_api4_resource_consumption.py |
| API5 Broken Function Level Authorization | test_api5_function_level_authorization.py |
| API6 Unrestricted Access to Sensitive Business Flows | test_api4_resource_consumption.py |
| API8 Security Misconfiguration | test_api8_security_misconfiguration.py |
| API9 Improper Inventory Management | test_api9_inventory.py |

API6's flows (sign-up, sign-in, password reset, confirmation emails, posting, following) each
have a limit of their own, proven in tests/test_throttling.py and listed in the API4 module.

Not applicable: API7 Server Side Request Forgery (Plaza never fetches a URL a client gives:
avatars are uploaded, not linked) and API10 Unsafe Consumption of APIs (Plaza calls no
third-party API; its only outgoing traffic is email through the configured SMTP server).
"""
