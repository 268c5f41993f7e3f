"""AWS error codes in plain words: the common ones, and those an operation declares for itself."""

from __future__ import annotations

from integrations.error_help import explain
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
