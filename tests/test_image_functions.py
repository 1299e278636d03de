"""Container-image functions (PackageType Image): Lambda's refusals of what an image
function cannot carry. Handler, Runtime and Layers describe a .zip package's environment;
an image brings its own, so Lambda refuses them with one message, before anything else is
looked at (the image is not fetched), and nothing is stored. A function keeps its package
type: a .zip function's UpdateFunctionCode refuses an ImageUri.
"""
import botocore.exceptions
import pytest

from apiutil import ROLE, create, unique_name

IMAGE_URI = "127.0.0.1:5000/fn:v1"
LAMBDA_REFUSAL = (
    "Please don't provide Handler or Runtime or Layer when the intended function "
    "PackageType is Image."
)
LAYER = "arn:aws:lambda:us-east-1:000000000000:layer:deps:1"


def _create_image(lam, name, **extra):
    return lam.create_function(
        FunctionName=name, Role=ROLE, PackageType="Image",
        Code={"ImageUri": IMAGE_URI}, **extra,
    )


def _assert_not_stored(lam, name):
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name not in names


@pytest.mark.parametrize("extra", [
    {"Handler": "app.handler"},
    {"Runtime": "python3.13"},
    {"Layers": [LAYER]},
    {"Handler": "app.handler", "Runtime": "python3.13", "Layers": [LAYER]},
], ids=["handler", "runtime", "layers", "all-three"])
def test_zip_only_settings_are_refused_with_image(lam, extra):
    name = unique_name("img")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _create_image(lam, name, **extra)
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] == "InvalidParameterValueException", err
    assert err["Error"]["Message"] == LAMBDA_REFUSAL
    _assert_not_stored(lam, name)


def test_image_config_limits_are_checked(lam):
    """WorkingDirectory holds at most 1,000 characters (the service model's limit)."""
    name = unique_name("img")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _create_image(lam, name, ImageConfig={"WorkingDirectory": "/" + "d" * 1000})
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] == "ValidationException", err
    assert "imageConfig.workingDirectory" in err["Error"]["Message"]
    assert "Member must have length less than or equal to 1000" in err["Error"]["Message"]
    _assert_not_stored(lam, name)


def test_zip_function_refuses_an_image_uri_update(lam):
    name, _ = create(lam)
    before = lam.get_function_configuration(FunctionName=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        lam.update_function_code(FunctionName=name, ImageUri=IMAGE_URI)
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] == "InvalidParameterValueException", err
    assert err["Error"]["Message"] == (
        "Please don't provide ImageUri when updating a function with packageType Zip."
    )
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["PackageType"] == "Zip"
    assert (cfg["CodeSha256"], cfg["RevisionId"]) == (before["CodeSha256"], before["RevisionId"])
