"""AWS error codes in plain words: the common ones, and those an operation declares for itself."""

from __future__ import annotations

from integrations.error_help import conflict_words, explain
from operations import get_operation

APPINTEGRATIONS = get_operation("appintegrations/CreateDataIntegration")
APPFABRIC = get_operation("appfabric/CreateIngestion")


def test_a_common_code_is_explained_for_every_operation():
    assert "slow down" in explain("ThrottlingException")
    assert explain("ThrottlingException", APPFABRIC) == explain("ThrottlingException")


def test_a_code_one_operation_answers_with_is_explained_by_its_declaration():
    assert "exists already" in explain("DuplicateResourceException", APPINTEGRATIONS)
    assert "different parameters" in explain("IdempotentParameterMismatch", APPFABRIC)


def test_a_code_nobody_explained_gets_no_words():
    assert explain("NoSuchThing", APPFABRIC) == ""
    assert explain("DuplicateResourceException") == ""


def test_a_code_the_portal_gave_up_on_never_promises_another_try():
    for code in ("ThrottlingException", "InternalServerException", "ReadTimeoutError", "SomethingNew"):
        words = explain(code, APPFABRIC, gave_up=True)

        assert words
        assert "retries by itself" not in words
        assert words != explain(code, APPFABRIC)


def test_a_conflict_is_said_with_the_unique_members_and_their_values():
    words = conflict_words(APPINTEGRATIONS, {"Name": "crm-accounts", "KmsKey": "alias/x"})

    assert "crm-accounts" in words
    assert conflict_words(APPFABRIC, {"app": "SLACK"}) == ""
