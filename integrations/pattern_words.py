"""The model's regular expressions said in words, for help texts and error messages.

Keyed by the exact pattern string of botocore's model, so one entry serves every member and
every operation that shares a shape. A test walks every registered operation and fails when
a pattern has no words here.
"""

UUID_WORDS = "a UUID in lower-case hex (8-4-4-4-12)"
NAME_WORDS = "letters, digits and / . _ -"

PATTERN_WORDS: dict[str, str] = {
    # shared shapes
    "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}": UUID_WORDS,
    "^[a-zA-Z0-9\\/\\._\\-]+$": NAME_WORDS,
    ".*\\S.*": "some text on one line (not only spaces)",
    ".*": "a single line of text",
    # AppFabric
    "arn:.+$|^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}": (
        "an app bundle ARN (arn:…) or a UUID in lower-case hex (8-4-4-4-12)"
    ),
    # Supply Chain
    (
        "arn:aws:scn:([a-z0-9-]+):([0-9]+):instance/([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-"
        "[a-f0-9]{12})/namespaces/[^/]+/datasets/[^/]+"
    ): "a dataset ARN: arn:aws:scn:REGION:ACCOUNT:instance/INSTANCE-UUID/namespaces/NAMESPACE/datasets/NAME",
    # AppIntegrations
    (
        "^((\\w+\\:\\/\\/[\\w.-]+[\\w/!@#+=.-]+)|(\\w+\\:\\/\\/[\\w.-]+[\\w/!@#+=.-]+[\\w/!@#+=.-]+[\\w/!@#+=.,-]+))$"
    ): "a URI such as s3://bucket/prefix or servicenow://instance-name",
    # Partner Central Selling
    "[a-zA-Z]+": "letters only",
    "eng-[0-9a-z]{14}": "eng- and 14 lower-case letters or digits",
    "O[0-9]{1,19}": "O and 1–19 digits (an opportunity id)",
    "[a-zA-Z0-9]{3,80}": "3–80 letters or digits",
    "(?=.{1,128}$)([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": (
        "1–128 letters (any language), digits, spaces and _ . : / = + - @"
    ),
    "(?=.{0,256}$)([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)": (
        "up to 256 letters (any language), digits, spaces and _ . : / = + - @"
    ),
    ".{1,255}": "1–255 characters on one line",
    # AppFlow
    "arn:aws:.*:.*:[0-9]+:.*": "an ARN such as arn:aws:lambda:us-east-1:123456789012:function:NAME",
    "[a-zA-Z0-9][\\w!@#.-]+": "a letter or digit, then letters, digits and _ ! @ # . - (at least 2 characters)",
    "[\\s\\w/!@#+=.-]*": "letters, digits, spaces and _ / ! @ # + = . -",
    "[ -~]+": "printable ASCII characters",
}
