"""What a stack made from ``template.yaml`` gets, for given parameters: least privilege,
VPC rights only in a VPC, secrets named one by one, alarms, tuning and log retention;
and the parameter combinations CloudFormation's Rules refuse."""

from __future__ import annotations

from typing import Any

import pytest

from relay.config import OPTIONS

from .template import Stack, load

SM = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:piinguin/relay-token-AbCdEf"
SSM = "arn:aws:ssm:eu-west-1:123456789012:parameter/piinguin/relay/key"
CA = "arn:aws:ssm:eu-west-1:123456789012:parameter/piinguin/ca"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"
STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/snowplow-pii"
REQUIRED = {"PiiStreamArn": STREAM, "PiinguinTarget": "vault.internal:50051"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load()


def stack(document: dict[str, Any], **parameters: Any) -> Stack:
    return Stack(document, **{**REQUIRED, **parameters})


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_role_grants_only_what_the_relay_uses_on_its_own_resources(
    document: dict[str, Any],
) -> None:
    default = stack(document)
    assert default.failed_rules() == []
    function = default.resource("Relay")
    assert function["Role"] == {"Fn::GetAtt": ["RelayRole", "Arn"]}  # not SAM's own role
    assert "Policies" not in function
    role = default.resource("RelayRole")
    assert "ManagedPolicyArns" not in role  # no AWS managed policy and its "*"
    statements = by_sid(default.statements())
    assert set(statements) == {"WriteOwnLogs", "ReadPiiStream", "ReportSkippedBatches"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert all(s["Resource"] != "*" for s in statements.values())
    stream = statements["ReadPiiStream"]
    assert stream["Resource"] == {"Ref": "PiiStreamArn"}
    assert actions(stream) == {
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    }
    queue = statements["ReportSkippedBatches"]
    assert (actions(queue), queue["Resource"]) == (
        {"sqs:SendMessage"},
        {"Fn::GetAtt": ["SkippedBatches", "Arn"]},
    )
    destination = function["Events"]["PiiStream"]["Properties"]["DestinationConfig"]
    assert destination["OnFailure"]["Destination"] == queue["Resource"]
    logs = statements["WriteOwnLogs"]
    assert (actions(logs), logs["Resource"]) == (
        {"logs:CreateLogStream", "logs:PutLogEvents"},
        {"Fn::GetAtt": ["RelayLogs", "Arn"]},
    )
    assert "VpcConfig" not in function


def test_an_encrypted_stream_may_be_decrypted_through_kinesis_only(
    document: dict[str, Any],
) -> None:
    encrypted = by_sid(stack(document, StreamKmsKeyArn=KEY).statements())["DecryptPiiStream"]
    assert (actions(encrypted), encrypted["Resource"]) == (
        {"kms:Decrypt"},
        {"Ref": "StreamKmsKeyArn"},
    )
    assert encrypted["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "kinesis.${AWS::Region}.amazonaws.com"}}
    }
    assert "DecryptPiiStream" not in by_sid(stack(document).statements())


def test_vpc_rights_only_with_subnets_and_security_groups_required_with_them(
    document: dict[str, Any],
) -> None:
    inside = stack(document, SubnetIds="subnet-1,subnet-2", SecurityGroupIds="sg-1")
    assert inside.failed_rules() == []
    vpc = by_sid(inside.statements())["VpcNetworkInterfaces"]
    assert all(action.startswith("ec2:") for action in actions(vpc))
    assert "ec2:CreateNetworkInterface" in actions(vpc)
    assert inside.resource("Relay")["VpcConfig"] == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    outside = stack(document)
    assert "VpcNetworkInterfaces" not in by_sid(outside.statements())
    # Resource "*" appears only for EC2's network interfaces, and only in a VPC.
    for s in inside.statements():
        assert s["Resource"] != "*" or s["Sid"] == "VpcNetworkInterfaces"

    assert stack(document, SubnetIds="subnet-1").failed_rules() == [
        "SecurityGroupIds is required when SubnetIds is given."
    ]
    assert stack(document, SecurityGroupIds="sg-1").failed_rules() == [
        "SecurityGroupIds apply only with SubnetIds."
    ]


def test_each_named_secret_and_no_other_may_be_read(document: dict[str, Any]) -> None:
    none = stack(document)
    assert "ReadNamedSecrets" not in by_sid(none.statements())
    variables = none.resource("Relay")["Environment"]["Variables"]
    assert variables["PIINGUIN_TOKEN_SECRET"] == {"Ref": "TokenSecretArn"}
    assert "PIINGUIN_TOKEN" not in variables  # no token in the function's configuration

    some = stack(document, TokenSecretArn=SM, TlsCaSecretArn=CA)
    secrets = by_sid(some.statements())["ReadNamedSecrets"]
    assert actions(secrets) == {"secretsmanager:GetSecretValue", "ssm:GetParameter"}
    assert secrets["Resource"] == [{"Ref": "TokenSecretArn"}, {"Ref": "TlsCaSecretArn"}]
    assert "DecryptSecretsThroughTheirServices" not in by_sid(some.statements())

    mutual = stack(document, TlsCertSecretArn=SM, TlsKeySecretArn=SSM, SecretsKmsKeyArn=KEY)
    assert mutual.failed_rules() == []
    assert by_sid(mutual.statements())["ReadNamedSecrets"]["Resource"] == [
        {"Ref": "TlsCertSecretArn"},
        {"Ref": "TlsKeySecretArn"},
    ]
    decrypt = by_sid(mutual.statements())["DecryptSecretsThroughTheirServices"]
    assert (actions(decrypt), decrypt["Resource"]) == ({"kms:Decrypt"}, {"Ref": "SecretsKmsKeyArn"})
    services = decrypt["Condition"]["StringEquals"]["kms:ViaService"]
    assert services == [
        {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
        {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"},
    ]
    # A key without secrets grants nothing.
    assert "DecryptSecretsThroughTheirServices" not in by_sid(
        stack(document, SecretsKmsKeyArn=KEY).statements()
    )


def test_the_rules_refuse_half_a_client_certificate_and_tls_secrets_without_tls(
    document: dict[str, Any],
) -> None:
    assert stack(document, TlsCertSecretArn=SM).failed_rules() == [
        "Mutual TLS needs both TlsCertSecretArn and TlsKeySecretArn."
    ]
    assert stack(document, TlsKeySecretArn=SSM).failed_rules() == [
        "Mutual TLS needs both TlsCertSecretArn and TlsKeySecretArn."
    ]
    assert stack(document, PiinguinTls="false", TlsCaSecretArn=CA).failed_rules() == [
        "TlsCaSecretArn and TlsCertSecretArn need PiinguinTls=true."
    ]


def test_every_variable_the_template_sets_is_one_the_relay_reads(
    document: dict[str, Any],
) -> None:
    variables = stack(document).resource("Relay")["Environment"]["Variables"]
    assert set(variables) <= {option.env for option in OPTIONS}
    for name in ("TokenSecretArn", "TlsCaSecretArn", "TlsCertSecretArn", "TlsKeySecretArn"):
        assert {"Ref": name} in variables.values()


def test_alarms_on_iterator_age_errors_and_the_failure_queue(document: dict[str, Any]) -> None:
    alarms = stack(document, AlarmTopicArn=TOPIC).resources("AWS::CloudWatch::Alarm")
    watched = {
        (a["Namespace"], a["MetricName"]): (a["Dimensions"], a["Threshold"])
        for a in alarms.values()
    }
    relay = [{"Name": "FunctionName", "Value": {"Ref": "Relay"}}]
    queue = [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SkippedBatches", "QueueName"]}}]
    assert watched == {
        ("AWS/Lambda", "IteratorAge"): (relay, {"Ref": "IteratorAgeAlarmMilliseconds"}),
        ("AWS/Lambda", "Errors"): (relay, 0),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (queue, 0),
    }
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopicArn"}]
    for alarm in stack(document).resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm  # no topic, no action


def test_parallelization_concurrency_and_log_retention_are_parameters(
    document: dict[str, Any],
) -> None:
    default = stack(document)
    function = default.resource("Relay")
    source = function["Events"]["PiiStream"]["Properties"]
    assert source["ParallelizationFactor"] == {"Ref": "ParallelizationFactor"}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ReservedConcurrentExecutions" not in function  # 0: none reserved
    reserved = stack(document, ReservedConcurrency=8).resource("Relay")
    assert reserved["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert default.resource("RelayLogs")["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "RelayLogs"}, "LogFormat": "Text"}
    parameters = document["Parameters"]
    assert (
        parameters["ParallelizationFactor"]["MinValue"],
        parameters["ParallelizationFactor"]["MaxValue"],
    ) == (1, 10)
    assert (
        parameters["LogRetentionDays"]["Default"] in parameters["LogRetentionDays"]["AllowedValues"]
    )
