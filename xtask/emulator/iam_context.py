"""AWS's authorization context for moto's IAM enforcement: resource ARNs and condition keys.

moto (5.2) authorizes DynamoDB, ECR, CodeBuild and Secrets Manager requests, and IAM requests on
an OIDC provider, against the resource "*", so a policy scoped to one table, repository, project,
secret or provider never matches and everything is denied; it evaluates
only `StringEquals` conditions and ignores the others (a `Null` Deny then denies always); and a
statement whose condition does not hold denies rather than not applying. AWS authorizes each
action against the resource ARNs the Service Authorization Reference lists for it, evaluates the
condition operators the IAM User Guide documents ("IAM JSON policy elements: Condition
operators", "Single-valued vs. multivalued context keys"), and a statement whose condition does
not hold does not apply ("Policy evaluation logic"). CodeBuild's request keys are those its user
guide lists ("AWS CodeBuild condition keys"). This module gives moto's identity-policy evaluation
all of that for the services and keys ShopStack's policies use; resource policies, trust policies
and statements with an operator not known here keep moto's own evaluation.

moto checks a signature by signing again the request it reconstructed, which differs from the
one sent where a query string holds encoded characters (Terraform's S3 backend lists
`prefix=env%3A%2F`), and then refuses a correctly signed request. Authorization is what
enforcement is for here: the access key and session token must still be ones STS or IAM issued,
but the signature is not checked again.
"""

import contextvars
import fnmatch
import json

from moto.codebuild.responses import CodeBuildResponse
from moto.dynamodb.responses import DynamoHandler
from moto.ecr.responses import ECRResponse
from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase, PermissionResult
from moto.iam.responses import IamResponse
from moto.secretsmanager.responses import SecretsManagerResponse

# The context of the identity-policy evaluation in progress; None outside one.
_CONTEXT = contextvars.ContextVar("aws_request_context", default=None)

# CodeBuild StartBuild request fields and the condition keys AWS sets from them.
START_BUILD_KEYS = {
    "buildspecOverride": "codebuild:source.buildspec",
    "sourceLocationOverride": "codebuild:source.location",
    "secondarySourcesOverride": "codebuild:secondarySources",
    "imageOverride": "codebuild:environment.image",
    "privilegedModeOverride": "codebuild:environment.privilegedMode",
    "serviceRoleOverride": "codebuild:serviceRole",
    "registryCredentialOverride": "codebuild:environment.registryCredential",
}
VARIABLE_NAMES_KEY = "codebuild:environment.environmentVariables.name"


def _param(handler, name):
    try:
        return handler._get_param(name)
    except Exception:  # noqa: BLE001 - a body moto cannot parse names no resource
        return None


def _dynamodb_resource(self):
    table = _param(self, "TableName")
    if not table:
        return _param(self, "ResourceArn") or "*"
    return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"


def _ecr_resource(self):
    repository = _param(self, "repositoryName")
    if not repository:
        # DescribeRepositories of one repository; ListTagsForResource and TagResource by ARN.
        named = _param(self, "repositoryNames") or []
        if len(named) == 1:
            repository = named[0]
        else:
            return _param(self, "resourceArn") or "*"
    account = _param(self, "registryId") or self.current_account
    return f"arn:aws:ecr:{self.region}:{account}:repository/{repository}"


def _codebuild_resource(self):
    project = _param(self, "projectName") or _param(self, "name")
    if not project:
        for listed in (_param(self, "ids") or _param(self, "names") or [])[:1]:
            project = listed.split("/")[-1].split(":")[0]
    if not project:
        return "*"
    if project.startswith("arn:"):
        return project
    return f"arn:aws:codebuild:{self.region}:{self.current_account}:project/{project}"


def request_context(action, body):
    """The condition keys of a request: `aws:SecureTransport` (this server speaks only TLS) and
    CodeBuild StartBuild's override keys, lower-cased, as AWS compares them."""
    context = {"aws:securetransport": "true"}
    if action.lower() != "codebuild:startbuild":
        return context
    try:
        fields = json.loads(body or b"{}")
    except ValueError:
        return context
    for field, key in START_BUILD_KEYS.items():
        if fields.get(field) is not None:
            context[key.lower()] = str(fields[field]).lower()
    variables = fields.get("environmentVariablesOverride")
    if variables is not None:
        context[VARIABLE_NAMES_KEY.lower()] = [variable.get("name", "") for variable in variables]
    return context


def _strings(value):
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items]


def _like(value, patterns):
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


# Operator: (whether a value matches the condition's values, whether the operator is negated).
OPERATORS = {
    "StringEquals": (lambda value, expected: value in expected, False),
    "StringNotEquals": (lambda value, expected: value not in expected, True),
    "StringEqualsIgnoreCase": (
        lambda value, expected: value.lower() in [item.lower() for item in expected],
        False,
    ),
    "StringLike": (_like, False),
    "StringNotLike": (lambda value, expected: not _like(value, expected), True),
    "ArnEquals": (lambda value, expected: value in expected, False),
    "ArnLike": (_like, False),
    "ArnNotLike": (lambda value, expected: not _like(value, expected), True),
    "Bool": (lambda value, expected: value.lower() in [item.lower() for item in expected], False),
}


def _holds(operator, key, expected, context):
    """Whether one condition key holds; None when the operator is not known here."""
    present = key in context
    actual = context.get(key)
    if operator == "Null":
        return (expected[0].lower() == "true") != present
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in OPERATORS:
        return None
    matches, negated = OPERATORS[base]
    if qualifier == "ForAnyValue":
        return any(matches(value, expected) for value in _strings(actual or []))
    if qualifier == "ForAllValues":
        return all(matches(value, expected) for value in _strings(actual or []))
    if qualifier:
        return None
    if not present:
        return if_exists or negated
    values = _strings(actual)
    return any(matches(value, expected) for value in values)


def conditions_hold(block, context):
    """Whether every key of every operator of a `Condition` holds; None when one is unknown."""
    for operator, keys in (block or {}).items():
        if not isinstance(keys, dict):
            return None
        for key, expected in keys.items():
            held = _holds(operator, key.lower(), _strings(expected), context)
            if held is None:
                return None
            if not held:
                return False
    return True


def _element_matches(patterns, value, case_sensitive):
    for pattern in _strings(patterns):
        if case_sensitive:
            if fnmatch.fnmatchcase(value, pattern):
                return True
        elif fnmatch.fnmatchcase(value.lower(), pattern.lower()):
            return True
    return False


def evaluate(statement, action, resource, context):
    """An identity-policy statement's answer for one request; None to leave it to moto."""
    if "Principal" in statement or "NotPrincipal" in statement:
        return None
    if "NotAction" in statement:
        concerned = not _element_matches(statement["NotAction"], action, False)
    else:
        concerned = _element_matches(statement.get("Action", []), action, False)
    if not concerned:
        return PermissionResult.NEUTRAL
    if "NotResource" in statement:
        if _element_matches(statement["NotResource"], resource, True):
            return PermissionResult.NEUTRAL
    elif not _element_matches(statement.get("Resource", []), resource, True):
        return PermissionResult.NEUTRAL
    held = conditions_hold(statement.get("Condition"), context)
    if held is None:
        return None
    if not held:
        return PermissionResult.NEUTRAL
    if statement.get("Effect") == "Allow":
        return PermissionResult.PERMITTED
    return PermissionResult.DENIED


def _secret_resource(self):
    """The secret's ARN; for one not created yet, its name with the six characters Secrets
    Manager appends, as a policy's `NAME-??????` expects."""
    secret = _param(self, "SecretId")
    if secret:
        found = self.backend.secrets.get(secret)
        return found.arn if found is not None else "*"
    name = _param(self, "Name")
    if not name:
        return "*"
    return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{name}-AbCdEf"


_iam_role_resource = IamResponse._determine_resource


def _iam_resource(self):
    provider = _param(self, "OpenIDConnectProviderArn")
    if provider:
        return provider
    url = _param(self, "Url")
    if url:
        host = url.split("://", 1)[-1]
        return f"arn:aws:iam::{self.current_account}:oidc-provider/{host}"
    return _iam_role_resource(self)


def install():
    """Puts the resource ARNs and the condition evaluation into moto."""
    DynamoHandler._determine_resource = _dynamodb_resource
    ECRResponse._determine_resource = _ecr_resource
    CodeBuildResponse._determine_resource = _codebuild_resource
    SecretsManagerResponse._determine_resource = _secret_resource
    IamResponse._determine_resource = _iam_resource

    check_action_permitted = IAMRequestBase.check_action_permitted

    def check_in_context(self, resource):
        token = _CONTEXT.set(request_context(self._action, self._body))
        try:
            check_action_permitted(self, resource)
        finally:
            _CONTEXT.reset(token)

    IAMRequestBase.check_action_permitted = check_in_context
    IAMRequestBase.check_signature = lambda self: None

    is_action_permitted = IAMPolicyStatement.is_action_permitted

    def permitted_in_context(
        self, action, resource="*", principal=None, incoming_condition_values=None
    ):
        context = _CONTEXT.get()
        if context is not None and principal is None and incoming_condition_values is None:
            answer = evaluate(self._statement, action, resource, context)
            if answer is not None:
                return answer
        return is_action_permitted(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = permitted_in_context
