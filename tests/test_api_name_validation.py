"""Function names, ARNs and qualifiers as Lambda validates them, one table across
GetFunction, GetFunctionConfiguration, DeleteFunction, Invoke, UpdateFunctionCode and
UpdateFunctionConfiguration (docs/wire.md §3, §9).

Every row reaches the server: the client is built with parameter_validation=False, so
botocore's own min-length and pattern checks never answer for it. Each row asserts the
status, the error code and the whole message.

Where the expected values come from:
- the patterns and lengths: botocore's service model (lambda 2015-03-31), read here
  from the installed botocore, so the test quotes exactly what the model declares:
  `NamespacedFunctionName` (Get*, Delete, Invoke: dots in names, `$LATEST.PUBLISHED`,
  max 256), `FunctionName` (Update*: max 140), `NumericLatestPublishedOrAliasQualifier`
  (max 128);
- the sentence `N validation error(s) detected: Value '<v>' at '<member>' failed to
  satisfy constraint: <constraint>` joined with "; ", pattern before length: Lambda's
  responses quoted in aws-sdk-rust#993 (a functionName pattern violation quoting the
  model's pattern of the day), ryansb/acm-certs-cloudformation#4, localstack's snapshot
  tests recorded against AWS (localstack#9697), and AWS JSON services' two-violation
  answers quoted in public code (the pattern violation listed before the length one);
- a name over 64 characters: "Member must have length less than or equal to 64" at
  'functionName', as CloudFormation users quote Lambda's answer;
- another region: `ResourceNotFoundException: Functions from 'us-east-1' are not
  reachable in this region ('ap-southeast-2')`, a real Invoke answer quoted in public
  code, also what localstack's AWS-validated api_utils answers;
- "The derived qualifier from the function name does not match the specified
  qualifier." and "$LATEST version cannot be deleted without deleting the function."
  (InvalidParameterValueException): localstack's provider, validated against AWS.
"""
import botocore.exceptions
import botocore.session
import pytest

from apiutil import (
    ACCOUNT,
    REGION,
    assert_alive,
    create,
    fn_arn,
    lamnv,  # noqa: F401  (fixture)
    make_zip,
    not_found_message,
)

_MODEL = botocore.session.get_session().get_service_model("lambda")


def _shape(op, member):
    return _MODEL.operation_model(op).input_shape.members[member]


NS = _shape("GetFunction", "FunctionName")
FN = _shape("UpdateFunctionCode", "FunctionName")
QUAL = _shape("GetFunction", "Qualifier")
P_NS, P_FN, P_Q = NS.metadata["pattern"], FN.metadata["pattern"], QUAL.metadata["pattern"]
MAX_NS, MAX_FN, MAX_Q = NS.metadata["max"], FN.metadata["max"], QUAL.metadata["max"]

VE, IPV, RNF = "ValidationException", "InvalidParameterValueException", "ResourceNotFoundException"


def pat(value, pattern, member="functionName"):
    return (f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}")


def longer(value, n, member="functionName"):
    return (f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {n}")


def shorter(value, n, member="functionName"):
    return (f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {n}")


def errors(*parts):
    noun = "error" if len(parts) == 1 else "errors"
    return f"{len(parts)} validation {noun} detected: " + "; ".join(parts)


def elsewhere(region):
    return f"Functions from '{region}' are not reachable in this region ('{REGION}')"


OTHER_ACCOUNT = "111111111111"


def denied(action, resource):
    """Lambda's 403 for a function of another account; dev-mode callers are the account's
    root (docs/wire.md §3)."""
    return (f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: lambda:{action} "
            f"on resource: {resource} because no resource-based policy allows the "
            f"lambda:{action} action")


MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."


def _rows(name):
    """(operation, FunctionName, extra kwargs, status, code, message)."""
    x65, x141, x257 = "x" * 65, "x" * 141, "x" * 257
    bang141, bang257 = "!" * 141, "!" * 257
    eu = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"
    cn = f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:{name}"
    gov = f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:{name}:1"
    other = f"arn:aws:lambda:{REGION}:{OTHER_ACCOUNT}:function:{name}"
    rows = [
        ("get_function", other, {}, 403, "AccessDeniedException", denied("GetFunction", other)),
        ("get_function_configuration", f"{OTHER_ACCOUNT}:function:{name}", {}, 403,
         "AccessDeniedException", denied("GetFunctionConfiguration", other)),
        ("get_function", other, {"Qualifier": "1"}, 403, "AccessDeniedException",
         denied("GetFunction", f"{other}:1")),
        ("invoke", other, {}, 403, "AccessDeniedException", denied("InvokeFunction", other)),
        ("delete_function", other, {}, 403, "AccessDeniedException",
         denied("DeleteFunction", other)),
        ("update_function_code", other, {"ZipFile": make_zip()}, 403, "AccessDeniedException",
         denied("UpdateFunctionCode", other)),
        ("update_function_configuration", other, {"Description": "d"}, 403,
         "AccessDeniedException", denied("UpdateFunctionConfiguration", other)),
    ]
    for op in ("get_function", "get_function_configuration"):
        rows += [
            (op, "bad name", {}, 400, VE, errors(pat("bad name", P_NS))),
            (op, "a/b", {}, 400, VE, errors(pat("a/b", P_NS))),
            (op, x65, {}, 400, VE, errors(longer(x65, 64))),
            (op, x257, {}, 400, VE, errors(longer(x257, MAX_NS))),
            (op, bang257, {}, 400, VE, errors(pat(bang257, P_NS), longer(bang257, MAX_NS))),
            (op, f"{name}:$NOPE", {}, 400, VE, errors(pat(f"{name}:$NOPE", P_NS))),
            (op, "arn:aws:s3:::bucket", {}, 400, VE, errors(pat("arn:aws:s3:::bucket", P_NS))),
            (op, name, {"Qualifier": "bad q"}, 400, VE, errors(pat("bad q", P_Q, "qualifier"))),
            (op, name, {"Qualifier": "q" * 129}, 400, VE,
             errors(longer("q" * 129, MAX_Q, "qualifier"))),
            (op, name, {"Qualifier": ""}, 400, VE,
             errors(pat("", P_Q, "qualifier"), shorter("", 1, "qualifier"))),
            (op, f"{name}:1", {"Qualifier": "2"}, 400, IPV, MISMATCH),
            (op, eu, {}, 404, RNF, elsewhere("eu-west-1")),
            (op, cn, {}, 404, RNF, elsewhere("cn-north-1")),
            # Admitted by the pattern, naming nothing.
            (op, name, {"Qualifier": "$NOPE"}, 404, RNF, not_found_message(name, "$NOPE")),
            (op, f"{name}.v2", {}, 404, RNF, not_found_message(f"{name}.v2")),
        ]
    rows += [
        ("get_function", gov, {}, 404, RNF, elsewhere("us-gov-west-1")),
        ("get_function", f"{name}:$LATEST.PUBLISHED", {}, 404, RNF,
         not_found_message(name, "$LATEST.PUBLISHED")),
        ("delete_function", "bad name", {}, 400, VE, errors(pat("bad name", P_NS))),
        ("delete_function", x257, {}, 400, VE, errors(longer(x257, MAX_NS))),
        ("delete_function", name, {"Qualifier": "v/1"}, 400, VE, errors(pat("v/1", P_Q, "qualifier"))),
        ("delete_function", name, {"Qualifier": "$LATEST"}, 400, IPV,
         "$LATEST version cannot be deleted without deleting the function."),
        ("delete_function", f"{name}:$LATEST", {}, 400, IPV,
         "$LATEST version cannot be deleted without deleting the function."),
        ("delete_function", f"{name}:3", {"Qualifier": "4"}, 400, IPV, MISMATCH),
        ("delete_function", eu, {}, 404, RNF, elsewhere("eu-west-1")),
        ("invoke", "bad name", {}, 400, VE, errors(pat("bad name", P_NS))),
        ("invoke", x65, {}, 400, VE, errors(longer(x65, 64))),
        ("invoke", bang257, {}, 400, VE, errors(pat(bang257, P_NS), longer(bang257, MAX_NS))),
        ("invoke", f"{name}:bad!", {}, 400, VE, errors(pat(f"{name}:bad!", P_NS))),
        ("invoke", name, {"Qualifier": "bad q"}, 400, VE, errors(pat("bad q", P_Q, "qualifier"))),
        ("invoke", name, {"Qualifier": "q" * 129}, 400, VE, errors(longer("q" * 129, MAX_Q, "qualifier"))),
        ("invoke", f"{name}:1", {"Qualifier": "$LATEST"}, 400, IPV, MISMATCH),
        ("invoke", eu, {}, 404, RNF, elsewhere("eu-west-1")),
        ("invoke", name, {"Qualifier": "$NOPE"}, 404, RNF, not_found_message(name, "$NOPE")),
    ]
    for op, extra in (("update_function_code", {"ZipFile": make_zip()}),
                      ("update_function_configuration", {"Description": "d"})):
        rows += [
            (op, "bad name", extra, 400, VE, errors(pat("bad name", P_FN))),
            (op, f"{name}.v2", extra, 400, VE, errors(pat(f"{name}.v2", P_FN))),
            (op, f"{name}:$LATEST.PUBLISHED", extra, 400, VE,
             errors(pat(f"{name}:$LATEST.PUBLISHED", P_FN))),
            (op, x65, extra, 400, VE, errors(longer(x65, 64))),
            (op, x141, extra, 400, VE, errors(longer(x141, MAX_FN))),
            (op, bang141, extra, 400, VE, errors(pat(bang141, P_FN), longer(bang141, MAX_FN))),
            (op, "arn:aws:lambda:us-east-1:12345:function:f", extra, 400, VE,
             errors(pat("arn:aws:lambda:us-east-1:12345:function:f", P_FN))),
            (op, eu, extra, 404, RNF, elsewhere("eu-west-1")),
        ]
    return rows


def test_model_shapes_are_the_ones_quoted():
    """The table rests on these model facts; fail loudly if botocore's model moves."""
    assert (MAX_NS, MAX_FN, MAX_Q) == (256, 140, 128)
    assert _shape("Invoke", "FunctionName").name == "NamespacedFunctionName"
    assert _shape("DeleteFunction", "FunctionName").name == "NamespacedFunctionName"
    assert _shape("GetFunctionConfiguration", "FunctionName").name == "NamespacedFunctionName"
    assert _shape("UpdateFunctionConfiguration", "FunctionName").name == "FunctionName"
    assert _shape("Invoke", "Qualifier").name == QUAL.name


def test_invalid_names_arns_and_qualifiers_table(server, lamnv):
    name, _ = create(lamnv, Publish=True)
    rows = _rows(name)
    assert len(rows) >= 40
    failures = []
    for op, fname, extra, status, code, message in rows:
        try:
            getattr(lamnv, op)(FunctionName=fname, **extra)
        except botocore.exceptions.ClientError as e:
            got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"),
                   e.response["Error"].get("Message"))
            if got != (status, code, message):
                failures.append(f"{op}({fname[:80]!r}, {extra.get('Qualifier')!r}): "
                                f"got {got!r}, want {(status, code, message)!r}")
        else:
            failures.append(f"{op}({fname[:80]!r}, {extra}): succeeded, want {status} {code}")
    assert not failures, f"{len(failures)} of {len(rows)} rows differ:\n" + "\n".join(failures)
    # Nothing was changed or lost by all those refusals.
    cfg = lamnv.get_function_configuration(FunctionName=name)
    assert cfg["FunctionArn"] == fn_arn(name) and cfg["Description"] == ""
    assert [v["Version"] for v in lamnv.list_versions_by_function(FunctionName=name)["Versions"]] \
        == ["$LATEST", "1"]
    assert_alive(server, lamnv)


def test_accepted_forms_across_partitions_of_this_region(lamnv):
    """Every form the model admits that names this region and account resolves."""
    name, _ = create(lamnv, Publish=True)
    for ident, version in ((name, "$LATEST"), (f"{name}:1", "1"), (f"function:{name}", "$LATEST"),
                           (f"{ACCOUNT}:function:{name}:1", "1"),
                           (f"{REGION}:{ACCOUNT}:function:{name}", "$LATEST"),
                           (fn_arn(name, "1"), "1"), (fn_arn(name, "$LATEST"), "$LATEST")):
        got = lamnv.get_function_configuration(FunctionName=ident)
        assert (got["FunctionName"], got["Version"]) == (name, version), ident
        inv = lamnv.invoke(FunctionName=ident, InvocationType="DryRun")
        assert inv["StatusCode"] == 204, ident


@pytest.mark.parametrize("qualifier", ["1", "$LATEST"])
def test_matching_qualifier_in_name_and_query_is_accepted(lamnv, qualifier):
    name, _ = create(lamnv, Publish=True)
    got = lamnv.get_function(FunctionName=f"{name}:{qualifier}", Qualifier=qualifier)
    assert got["Configuration"]["Version"] == qualifier
