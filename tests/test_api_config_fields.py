"""FunctionConfiguration field audit: the exact top-level members each operation answers
with for a Zip function, and their defaults (docs/wire.md §1.3, §13)."""
import pytest

from apiutil import assert_client_error, create, fn_arn, handler_zip, settled

# What GetFunctionConfiguration answers for a settled Zip function created with only the
# required parameters, per the API reference's FunctionConfiguration and Lambda's answers.
# Members Lambda omits while unset, and so absent here:
# - Environment: only once variables are set (checked below).
# - VpcConfig, DeadLetterConfig, KMSKeyArn, FileSystemConfigs, Layers: only when
#   configured (DeadLetterConfig is checked below; the others Quiver does not model).
# - SigningProfileVersionArn, SigningJobArn: only for code signed through a signing
#   profile.
# - MasterArn: Lambda@Edge replicas only.  ImageConfigResponse: PackageType Image only.
# - StateReason*, LastUpdateStatusReason*: only while Pending / InProgress or failed.
# - TenancyConfig, CapacityProviderConfig, ConfigSha256, DurableConfig, RuntimeConfig,
#   AcceleratorConfig: features of their own, answered only for functions that use them.
SETTLED = {
    "FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description",
    "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig",
    "RevisionId", "State", "LastUpdateStatus", "PackageType", "Architectures",
    "EphemeralStorage", "SnapStart", "RuntimeVersionConfig", "LoggingConfig",
}
# CreateFunction / PublishVersion: Pending, with its reason, and no LastUpdateStatus yet.
CREATING = (SETTLED - {"LastUpdateStatus"}) | {"StateReason", "StateReasonCode"}
# UpdateFunctionCode / UpdateFunctionConfiguration: InProgress, with its reason.
UPDATING = SETTLED | {"LastUpdateStatusReason", "LastUpdateStatusReasonCode"}
# ListFunctions / ListVersionsByFunction items: the reference says GetFunction is needed
# for State*, LastUpdateStatus* and RuntimeVersionConfig.
LIST_ITEM = SETTLED - {"State", "LastUpdateStatus", "RuntimeVersionConfig"}


def _keys(cfg):
    return set(cfg) - {"ResponseMetadata"}


def _model_members(lam):
    return set(lam.meta.service_model.shape_for("FunctionConfiguration").members)


def test_every_operation_answers_the_exact_member_set(lam):
    members = _model_members(lam)
    assert SETTLED | CREATING | UPDATING <= members, (SETTLED | CREATING | UPDATING) - members
    name, created = create(lam)
    assert _keys(created) == CREATING
    got = settled(lam, name)
    assert _keys(got) == SETTLED
    assert _keys(lam.get_function(FunctionName=name)["Configuration"]) == SETTLED
    item = next(f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name)
    assert _keys(item) == LIST_ITEM
    for v in lam.list_versions_by_function(FunctionName=name)["Versions"]:
        assert _keys(v) == LIST_ITEM
    assert _keys(lam.update_function_configuration(FunctionName=name, Timeout=7)) == UPDATING
    assert _keys(settled(lam, name)) == SETTLED
    assert _keys(lam.update_function_code(FunctionName=name, ZipFile=handler_zip("fields"))) == UPDATING
    assert _keys(settled(lam, name)) == SETTLED
    pub = lam.publish_version(FunctionName=name)
    assert _keys(pub) == CREATING
    assert _keys(settled(lam, name, qualifier=pub["Version"])) == SETTLED


def test_defaults_of_a_zip_function(lam):
    name, _ = create(lam)
    got = settled(lam, name)
    assert got["Description"] == ""
    assert got["TracingConfig"] == {"Mode": "PassThrough"}
    assert got["PackageType"] == "Zip"
    assert got["Architectures"] == ["x86_64"]
    assert got["EphemeralStorage"] == {"Size": 512}
    assert got["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert got["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert set(got["RuntimeVersionConfig"]) == {"RuntimeVersionArn"}
    assert got["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")
    assert (got["State"], got["LastUpdateStatus"]) == ("Active", "Successful")


def test_json_logs_report_info_levels_unless_set(lam):
    name, created = create(lam, LoggingConfig={"LogFormat": "JSON"})
    want = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
            "LogGroup": f"/aws/lambda/{name}"}
    assert created["LoggingConfig"] == want
    assert settled(lam, name)["LoggingConfig"] == want
    upd = lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert upd["LoggingConfig"] == want | {"ApplicationLogLevel": "DEBUG"}
    assert settled(lam, name)["LoggingConfig"] == want | {"ApplicationLogLevel": "DEBUG"}


def test_text_logs_refuse_levels(lam):
    with pytest.raises(Exception) as exc:
        create(lam, LoggingConfig={"LogFormat": "Text", "SystemLogLevel": "WARN"})
    assert_client_error(exc, "InvalidParameterValueException", 400,
                        "ApplicationLogLevel and SystemLogLevel can only be set when LogFormat is JSON.")


def test_configured_members_appear(lam):
    """Environment and DeadLetterConfig are omitted while unset and answered once set."""
    dlq = "arn:aws:sqs:us-east-1:000000000000:fields-dlq"
    name, created = create(lam, Environment={"Variables": {"K1": "v"}}, DeadLetterConfig={"TargetArn": dlq})
    assert _keys(created) == CREATING | {"Environment", "DeadLetterConfig"}
    got = settled(lam, name)
    assert _keys(got) == SETTLED | {"Environment", "DeadLetterConfig"}
    assert got["Environment"] == {"Variables": {"K1": "v"}}
    assert got["DeadLetterConfig"] == {"TargetArn": dlq}
    assert got["FunctionArn"] == fn_arn(name)
