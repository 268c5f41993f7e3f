"""The demo resources every region of the sandbox starts with (and has again after a reset).

A picker needs something to pick from: app bundles, Supply Chain instances with datasets, KMS
aliases, Lambda functions, and Partner Central engagements with their opportunities. The tables
below are the whole of it; ``seed`` turns them into descriptions shaped like each read's output,
with ids and ARNs in their models' patterns, so that the portal's forms accept them. The example
calls in tests/sandbox/support.py name some of them (the first bundle, instance and engagement,
``alias/integrations``, the ``custom-connector`` function).
"""

from __future__ import annotations

import datetime as dt

from sandbox.reads import ResourceStore

SINCE = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)  # fixed, so that a reset gives the same data

APP_BUNDLES = (
    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    "c0ffee00-1234-4abc-9def-0123456789ab",
)

# instance id: (name, state, {namespace: dataset names})
SUPPLY_CHAIN_INSTANCES: dict[str, tuple[str, str, dict[str, tuple[str, ...]]]] = {
    "11111111-2222-4333-8444-555555555555": (
        "north-america",
        "Active",
        {"asc": ("inbound_order", "inbound_order_line", "outbound_order_line"), "default": ("orders", "forecasts")},
    ),
    "22222222-3333-4444-8555-666666666666": ("europe", "Active", {"asc": ("inventory_level",)}),
    "33333333-4444-4555-8666-777777777777": ("staging", "Initializing", {}),
}

# alias name: target key id (None: an alias AWS reserves but has not created a key for yet)
KMS_ALIASES = {
    "alias/integrations": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "alias/orders": "0987dcba-09fe-87dc-65ba-ab0987654321",
    "alias/supply-chain": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "alias/aws/appintegrations": None,
}

# More than one default page of ListFunctions (50), so that pickers must page.
LAMBDA_FUNCTIONS = ("custom-connector", *(f"erp-sync-{n:02d}" for n in range(1, 60)))

PARTNER_CATALOGS = ("AWS", "Sandbox")
# engagement id: (title, opportunity ids)
ENGAGEMENTS = {
    "eng-a1b2c3d4e5f6g7": ("Cloud migration", ("O1234567", "O1234568")),
    "eng-h8i9j0k1l2m3n4": ("Data lake modernisation", ("O2345678",)),
    "eng-o5p6q7r8s9t0u1": ("Contact centre rollout", ()),
}
# opportunity id: (customer, stage)
OPPORTUNITIES = {
    "O1234567": ("Example Corp", "Qualified"),
    "O1234568": ("Example Corp", "Prospect"),
    "O2345678": ("AnyCompany Logistics", "Committed"),
}


def seed(store: ResourceStore, region: str, account: str) -> None:
    """Put the demo resources of ``region`` into ``store``."""
    for bundle in APP_BUNDLES:
        arn = f"arn:aws:appfabric:{region}:{account}:appbundle/{bundle}"
        store.put("appfabric/appbundle", arn, {"arn": arn})

    for instance, (name, state, namespaces) in SUPPLY_CHAIN_INSTANCES.items():
        store.put(
            "supplychain/instance",
            instance,
            {
                "instanceId": instance,
                "awsAccountId": account,
                "state": state,
                "instanceName": name,
                "webAppDnsDomain": name,
                "createdTime": SINCE,
                "lastModifiedTime": SINCE,
                "versionNumber": 1.0,
            },
        )
        for namespace, datasets in namespaces.items():
            for dataset in datasets:
                arn = f"arn:aws:scn:{region}:{account}:instance/{instance}/namespaces/{namespace}/datasets/{dataset}"
                store.put(
                    "supplychain/dataset",
                    arn,
                    {
                        "instanceId": instance,
                        "namespace": namespace,
                        "name": dataset,
                        "arn": arn,
                        "description": f"{dataset.replace('_', ' ')} ({name})",
                        "schema": {
                            "name": dataset.title().replace("_", ""),
                            "fields": [{"name": "id", "type": "STRING", "isRequired": True}],
                        },
                        "createdTime": SINCE,
                        "lastModifiedTime": SINCE,
                    },
                )

    for alias, key in KMS_ALIASES.items():
        arn = f"arn:aws:kms:{region}:{account}:{alias}"
        entry = {"AliasName": alias, "AliasArn": arn, "TargetKeyId": key, "CreationDate": SINCE}
        store.put("kms/alias", arn, {k: v for k, v in entry.items() if v is not None})

    for function in LAMBDA_FUNCTIONS:
        arn = f"arn:aws:lambda:{region}:{account}:function:{function}"
        store.put(
            "lambda/function",
            arn,
            {
                "FunctionName": function,
                "FunctionArn": arn,
                "Runtime": "python3.12",
                "Role": f"arn:aws:iam::{account}:role/{function}-role",
                "Handler": "app.handler",
                "CodeSize": 1024,
                "Timeout": 30,
                "MemorySize": 256,
                "LastModified": SINCE.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "Version": "$LATEST",
                "State": "Active",
                "PackageType": "Zip",
                "Architectures": ["arm64"],
            },
        )

    for catalog in PARTNER_CATALOGS:
        base = f"arn:aws:partnercentral:{region}:{account}:catalog/{catalog}"
        for opportunity, (customer, stage) in OPPORTUNITIES.items():
            store.put(
                "partnercentral-selling/opportunity",
                f"{base}/opportunity/{opportunity}",
                {
                    "Catalog": catalog,
                    "Id": opportunity,
                    "Arn": f"{base}/opportunity/{opportunity}",
                    "OpportunityType": "Net New Business",
                    "CreatedDate": SINCE,
                    "LastModifiedDate": SINCE,
                    "LifeCycle": {"Stage": stage, "ReviewStatus": "Approved"},
                    "Customer": {"Account": {"CompanyName": customer}},
                },
            )
        for engagement, (title, opportunities) in ENGAGEMENTS.items():
            store.put(
                "partnercentral-selling/engagement",
                f"{base}/engagement/{engagement}",
                {
                    "Catalog": catalog,
                    "Arn": f"{base}/engagement/{engagement}",
                    "Id": engagement,
                    "Title": title,
                    "CreatedAt": SINCE,
                    "CreatedBy": account,
                    "MemberCount": 2,
                    "ContextTypes": ["CustomerProject"],
                },
            )
            for opportunity in opportunities:
                store.put(
                    "partnercentral-selling/association",
                    f"{base}/engagement/{engagement}/opportunity/{opportunity}",
                    {
                        "Catalog": catalog,
                        "EngagementId": engagement,
                        "ResourceType": "Opportunity",
                        "ResourceId": opportunity,
                        "CreatedBy": account,
                    },
                )
