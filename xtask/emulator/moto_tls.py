"""The moto server, TLS-only, with AWS's `aws:SecureTransport` condition key evaluated and each table created once.

moto evaluates bucket policies on object requests but ignores the condition operators it does
not know (`Bool` among them), so a statement denying `"Bool": {"aws:SecureTransport": "false"}`
would deny every request, TLS or not. AWS documents the key as "true" for a request sent over
TLS ("AWS global condition context keys", IAM User Guide). This server only speaks TLS, so the
key is "true" for every request it sees; a statement whose `Bool` condition asks for another
value does not apply (neutral), as on AWS. Plain-HTTP requests only exist through the test
proxy, which answers them as AWS does itself.

moto checks whether a table exists and then creates it without holding a lock, so two concurrent
CreateTable calls of one name can both succeed, the second replacing the first table and every
item (every state lock) in it. AWS creates the table once and answers ResourceInUseException to
the other callers ("CreateTable", Amazon DynamoDB API Reference): the check and the creation are
made one at a time here.

With IAM enforcement on (`POST /moto-api/reset-auth`), identity policies are evaluated with the
resource ARNs and condition keys AWS uses (`iam_context`).
"""

import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.server import main

import iam_context

SECURE_TRANSPORT = "aws:securetransport"
_is_action_permitted = IAMPolicyStatement.is_action_permitted


def _values(value):
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() for item in items]


def _applies_over_tls(condition):
    """Whether every `aws:SecureTransport` test in `condition` holds for a TLS request."""
    for operator, keys in (condition or {}).items():
        if operator not in ("Bool", "BoolIfExists") or not isinstance(keys, dict):
            continue
        for key, value in keys.items():
            if key.lower() == SECURE_TRANSPORT and "true" not in _values(value):
                return False
    return True


def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    if not _applies_over_tls(self._statement.get("Condition")):
        return PermissionResult.NEUTRAL
    return _is_action_permitted(self, action, resource, principal, incoming_condition_values)


_create_table = DynamoDBBackend.create_table
_creating_tables = threading.Lock()


def create_table(self, *args, **kwargs):
    with _creating_tables:
        return _create_table(self, *args, **kwargs)


IAMPolicyStatement.is_action_permitted = is_action_permitted
DynamoDBBackend.create_table = create_table
iam_context.install()

if __name__ == "__main__":
    if "--ssl-cert" not in sys.argv:
        sys.exit("moto_tls.py serves TLS only: pass --ssl-cert and --ssl-key")
    main(sys.argv[1:])
