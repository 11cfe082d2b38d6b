"""Security properties of template.yaml, asserted on the CloudFormation that SAM produces from it, for several
sets of parameter values. Run with the project's venv: `python -m pytest tests/template` (scripts/sam.sh)."""

import functools

import pytest

import cfn

POOL = "eu-west-1_AbC123xyz"
SCENARIOS = {
    "defaults": {},
    "existing-pool": {"UserPoolId": POOL, "ClientIds": "client-a,client-b", "TokenUse": "id"},
    "structured-config": {"AuthzConfig": '{"issuers": []}', "AuthorizerCacheTtl": 0},
    "restricted": {
        "AllowedSourceCidrs": "203.0.113.0/24,198.51.100.7/32",
        "TrustedAccountIds": "444455556666,777788889999",
        "AuthorizerCacheTtl": 3600,
        "AllowedOrigin": "https://app.example.com",
    },
    "private": {"VpcEndpointIds": "vpce-0123456789abcdef0,vpce-0fedcba9876543210", "AllowedSourceCidrs": "10.0.0.0/8"},
}

AUTHORIZERS = {"TokenAuthorizerFunction", "RequestAuthorizerFunction"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method"}
# The only statements allowed a "*" resource, and why.
WILDCARD_RESOURCE_ALLOWED = {
    frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}): "X-Ray has no resource-level permissions",
}


@functools.cache
def source():
    return cfn.load_source()


@functools.cache
def template(scenario="defaults"):
    return cfn.transformed(source(), SCENARIOS[scenario])


@functools.cache
def deployed(scenario):
    resolver = cfn.Resolver(template(scenario), SCENARIOS[scenario])
    return resolver.resources(), resolver.outputs()


def resources(scenario):
    return deployed(scenario)[0]


def of_type(scenario, kind):
    return {name: r for name, r in resources(scenario).items() if r["Type"] == kind}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(document):
    return as_list(document["Statement"])


def role_statements(role):
    """Every statement of a role's inline policies; a role with managed policies fails the caller's check."""
    out = []
    for policy in role["Properties"].get("Policies", []):
        out.extend(statements(policy["PolicyDocument"]))
    return out


def grants(role):
    """{action: set of resources} over a role's Allow statements."""
    out = {}
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow", statement
        for action in as_list(statement["Action"]):
            out.setdefault(action, set()).update(as_list(statement["Resource"]))
    return out


def assert_grants(role, expected, name):
    """The role's Allow statements grant exactly `expected`; a failure names what is extra and what is missing."""
    actual = grants(role)
    extra = {a: sorted(r - expected.get(a, set())) for a, r in actual.items() if r - expected.get(a, set())}
    missing = {a: sorted(r - actual.get(a, set())) for a, r in expected.items() if r - actual.get(a, set())}
    assert not extra and not missing, f"{name}: grants beyond the intended {extra}; intended but missing {missing}"


def operations(body):
    for path, item in body["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


all_scenarios = pytest.mark.parametrize("scenario", SCENARIOS)


# ------------------------------------------------------------------------------------------------------------
# Routes: every one but OPTIONS is authorized.
# ------------------------------------------------------------------------------------------------------------


@all_scenarios
def test_every_rest_method_but_options_has_an_authorizer_or_aws_iam(scenario):
    (api,) = of_type(scenario, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    assert "security" not in body, "no API-wide default: each operation states its authorization"
    schemes = body["components"]["securitySchemes"]
    seen = set()
    for path, method, operation in operations(body):
        if method == "options":
            assert not operation.get("security"), f"OPTIONS {path} must not require authorization"
            assert operation["x-amazon-apigateway-integration"]["type"] == "mock", (
                f"OPTIONS {path} is unauthenticated, so it must not reach a backend"
            )
            continue
        security = operation.get("security")
        assert security, f"{method.upper()} {path} has no authorization"
        for requirement in security:
            assert requirement, f"{method.upper()} {path}: an empty requirement means no authorization"
            for name in requirement:
                scheme = schemes[name]
                kind = scheme.get("x-amazon-apigateway-authtype")
                if kind == "awsSigv4":
                    seen.add("AWS_IAM")
                    continue
                authorizer = scheme["x-amazon-apigateway-authorizer"]
                seen.add(authorizer["type"])
                if authorizer["type"] == "cognito_user_pools":
                    assert authorizer["providerARNs"], name
                else:
                    assert authorizer["type"] in ("token", "request"), name
    assert seen == {"token", "request", "cognito_user_pools", "AWS_IAM"}, seen


@all_scenarios
def test_no_method_or_route_is_defined_outside_the_openapi_bodies(scenario):
    for kind in ("AWS::ApiGateway::Method", "AWS::ApiGatewayV2::Route", "AWS::ApiGateway::Resource"):
        assert not of_type(scenario, kind), f"{kind} resources would escape the route checks"


@all_scenarios
def test_every_http_api_route_uses_the_request_authorizer_with_payload_2(scenario):
    (api,) = of_type(scenario, "AWS::ApiGatewayV2::Api").values()
    body = api["Properties"]["Body"]
    routes = list(operations(body))
    assert routes
    for path, method, operation in routes:
        assert method != "options", "HTTP API preflights are answered by the API's CORS configuration"
        assert operation.get("security") == [{"RequestAuthorizer": []}], f"{method.upper()} {path}"
    cors = body["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == [SCENARIOS[scenario].get("AllowedOrigin", "*")], "preflights need the CORS configuration"
    assert "authorization" in [h.lower() for h in cors["allowHeaders"]]
    authorizer = body["components"]["securitySchemes"]["RequestAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["authorizerPayloadFormatVersion"] == "2.0"
    assert not authorizer.get("enableSimpleResponses"), "a cached simple response would cover every route"
    assert authorizer["identitySource"] == ["$request.header.Authorization"]
    assert authorizer["authorizerCredentials"] == "<AuthorizerInvokeRole.Arn>"
    assert "<RequestAuthorizerFunction.Arn>" in authorizer["authorizerUri"]


@all_scenarios
def test_rest_lambda_authorizers_use_the_invoke_role_identity_source_and_ttl(scenario):
    (api,) = of_type(scenario, "AWS::ApiGateway::RestApi").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]
    ttl = str(SCENARIOS[scenario].get("AuthorizerCacheTtl", 300))
    token = schemes["TokenAuthorizer"]
    assert (token["in"], token["name"]) == ("header", "Authorization")
    request = schemes["RequestAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert request["identitySource"] == "method.request.header.Authorization"
    for name, function in (("TokenAuthorizer", "TokenAuthorizerFunction"), ("RequestAuthorizer", "RequestAuthorizerFunction")):
        authorizer = schemes[name]["x-amazon-apigateway-authorizer"]
        assert authorizer["authorizerCredentials"] == "<AuthorizerInvokeRole.Arn>", name
        assert f"/functions/<{function}.Arn>/invocations" in authorizer["authorizerUri"], name
        assert str(authorizer["authorizerResultTtlInSeconds"]) == ttl, name
    (http,) = of_type(scenario, "AWS::ApiGatewayV2::Api").values()
    http_authorizer = http["Properties"]["Body"]["components"]["securitySchemes"]["RequestAuthorizer"]
    assert str(http_authorizer["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"]) == ttl


def test_the_cache_ttl_parameter_is_bounded_by_api_gateways_limits():
    ttl = source()["Parameters"]["AuthorizerCacheTtl"]
    assert (ttl["MinValue"], ttl["MaxValue"], ttl["Default"]) == (0, 3600, 300)


# ------------------------------------------------------------------------------------------------------------
# The invoke role and the other ways into the functions.
# ------------------------------------------------------------------------------------------------------------


@all_scenarios
def test_the_invoke_role_is_trusted_by_api_gateway_only_and_invokes_the_two_authorizers_only(scenario):
    role = resources(scenario)["AuthorizerInvokeRole"]["Properties"]
    assert statements(role["AssumeRolePolicyDocument"]) == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert not role.get("ManagedPolicyArns")
    assert_grants(
        {"Properties": role},
        {"lambda:InvokeFunction": {"<TokenAuthorizerFunction.Arn>", "<RequestAuthorizerFunction.Arn>"}},
        "AuthorizerInvokeRole",
    )


@all_scenarios
def test_no_resource_based_permission_opens_an_authorizer_and_every_permission_names_its_source(scenario):
    permissions = of_type(scenario, "AWS::Lambda::Permission")
    expected = {
        "CacheInvalidatorEventsPermission": ("<CacheInvalidatorFunction.Arn>", "events.amazonaws.com", "<CognitoChangesRule.Arn>"),
        "HttpEchoFunctionWhoAmIPermission": (
            "<HttpEchoFunction>",
            "apigateway.amazonaws.com",
            f"arn:aws:execute-api:{cfn.REGION}:{cfn.ACCOUNT}:<ExampleHttpApi>/*/GET/whoami",
        ),
    }
    assert set(permissions) == set(expected)
    for name, permission in permissions.items():
        p = permission["Properties"]
        assert (p["FunctionName"], p["Principal"], p["SourceArn"]) == expected[name], name
        assert p["Action"] == "lambda:InvokeFunction", name
    assert permissions["CacheInvalidatorEventsPermission"]["Properties"]["SourceAccount"] == cfn.ACCOUNT


# ------------------------------------------------------------------------------------------------------------
# Function roles: least privilege.
# ------------------------------------------------------------------------------------------------------------


def logs_and_traces(log_group):
    return {
        "logs:CreateLogStream": {f"<{log_group}.Arn>"},
        "logs:PutLogEvents": {f"<{log_group}.Arn>"},
        "xray:PutTraceSegments": {"*"},
        "xray:PutTelemetryRecords": {"*"},
    }


@all_scenarios
def test_the_authorizers_only_read_the_revocation_table(scenario):
    for function, role, log_group in (
        ("TokenAuthorizerFunction", "TokenAuthorizerRole", "TokenAuthorizerLogGroup"),
        ("RequestAuthorizerFunction", "RequestAuthorizerRole", "RequestAuthorizerLogGroup"),
    ):
        all_resources = resources(scenario)
        assert all_resources[function]["Properties"]["Role"] == f"<{role}.Arn>"
        assert_grants(
            all_resources[role], {**logs_and_traces(log_group), "dynamodb:BatchGetItem": {"<RevocationTable.Arn>"}}, role
        )


@all_scenarios
def test_the_invalidator_writes_the_table_reads_the_pool_and_flushes_the_example_stages_only(scenario):
    all_resources = resources(scenario)
    pool = (
        f"arn:aws:cognito-idp:{cfn.REGION}:{cfn.ACCOUNT}:userpool/{POOL}"
        if SCENARIOS[scenario].get("UserPoolId")
        else "<UserPool.Arn>"
    )
    apigw = f"arn:aws:apigateway:{cfn.REGION}::"
    assert all_resources["CacheInvalidatorFunction"]["Properties"]["Role"] == "<CacheInvalidatorRole.Arn>"
    assert_grants(all_resources["CacheInvalidatorRole"], {
        **logs_and_traces("CacheInvalidatorLogGroup"),
        "dynamodb:PutItem": {"<RevocationTable.Arn>"},
        "dynamodb:UpdateItem": {"<RevocationTable.Arn>"},
        "cognito-idp:AdminGetUser": {pool},
        "apigateway:DELETE": {
            f"{apigw}/restapis/<ExampleRestApi>/stages/v1/cache/authorizers",
            f"{apigw}/apis/<ExampleHttpApi>/stages/v1/cache/authorizers",
        },
        "sqs:SendMessage": {"<InvalidatorFailureQueue.Arn>"},
    }, "CacheInvalidatorRole")


@all_scenarios
def test_the_invalidator_is_configured_for_the_stages_it_may_flush(scenario):
    variables = resources(scenario)["CacheInvalidatorFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REST_API_STAGES"] == "<ExampleRestApi>/v1"
    assert variables["HTTP_API_STAGES"] == "<ExampleHttpApi>/v1"
    assert variables["REVOCATION_TABLE"] == "<RevocationTable>"
    assert variables["COGNITO_USER_POOL_ID"] == SCENARIOS[scenario].get("UserPoolId", "<UserPool>")
    timeout = resources(scenario)["CacheInvalidatorFunction"]["Properties"]["Timeout"]
    assert timeout > source()["Parameters"]["ReflushAfterSeconds"]["MaxValue"], "it waits between two flushes"


@all_scenarios
def test_no_wildcards_where_a_specific_resource_or_action_exists(scenario):
    for name, role in of_type(scenario, "AWS::IAM::Role").items():
        props = role["Properties"]
        assert not props.get("ManagedPolicyArns"), f"{name}: managed policies escape these checks"
        documents = [props["AssumeRolePolicyDocument"]] + [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in statements(document):
                assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), f"{name}: {statement}"
                for action in as_list(statement["Action"]):
                    assert "*" not in action, f"{name}: wildcard action {action}"
        for statement in role_statements(role):
            if any("*" in resource for resource in as_list(statement["Resource"])):
                actions = frozenset(as_list(statement["Action"]))
                assert actions in WILDCARD_RESOURCE_ALLOWED, f"{name}: {sorted(actions)} on {statement['Resource']}"
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"):
        assert not of_type(scenario, kind), f"{kind} would escape these checks"


@all_scenarios
def test_functions_are_arm64_al2023_small_traced_with_json_logs(scenario):
    for name, function in of_type(scenario, "AWS::Lambda::Function").items():
        p = function["Properties"]
        assert p["Architectures"] == ["arm64"], name
        assert p["MemorySize"] <= 256, name
        assert p["TracingConfig"] == {"Mode": "Active"}, name
        assert p["LoggingConfig"]["LogFormat"] == "JSON", name
        assert p["LoggingConfig"]["LogGroup"] == f"<{name.removesuffix('Function')}LogGroup>", name
        if name != "HttpEchoFunction":
            assert p["Runtime"] == "provided.al2023", name
    built = {
        name: r["Metadata"]["BuildProperties"]["Binary"]
        for name, r in source()["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function" and r.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    }
    assert built == {
        "TokenAuthorizerFunction": "token-authorizer",
        "RequestAuthorizerFunction": "request-authorizer",
        "CacheInvalidatorFunction": "cache-invalidator",
    }
    for name in built:
        assert source()["Resources"][name]["Properties"]["CodeUri"] == ".", name


@all_scenarios
def test_the_authorizers_configuration(scenario):
    values = SCENARIOS[scenario]
    for name in AUTHORIZERS:
        variables = resources(scenario)[name]["Properties"]["Environment"]["Variables"]
        assert variables["REVOCATION_TABLE"] == "<RevocationTable>"
        assert variables["REVOCATION_MAX_STALENESS_SECONDS"] == "30"
        if values.get("AuthzConfig"):
            assert variables["AUTHZ_CONFIG"] == values["AuthzConfig"]
            assert not {"COGNITO_USER_POOL_ID", "COGNITO_CLIENT_IDS", "COGNITO_TOKEN_USE"} & set(variables)
        else:
            assert "AUTHZ_CONFIG" not in variables
            assert variables["COGNITO_USER_POOL_ID"] == values.get("UserPoolId", "<UserPool>")
            assert variables["COGNITO_CLIENT_IDS"] == values.get("ClientIds", "<UserPoolClient>")
            assert variables["COGNITO_TOKEN_USE"] == values.get("TokenUse", "access")


# ------------------------------------------------------------------------------------------------------------
# Rules: parameter combinations CloudFormation refuses before the change set (no AWS account here, so the
# rules are evaluated offline by cfn.RuleEvaluator).
# ------------------------------------------------------------------------------------------------------------

NEEDS_CLIENT_IDS = "ExistingPoolNeedsClientIds"
NO_CLIENT_IDS = "CreatedPoolTakesNoClientIds"
RULE_CASES = {
    # (parameter values, the rules that refuse them)
    "existing pool, no client ids": ({"UserPoolId": POOL}, {NEEDS_CLIENT_IDS}),
    "existing pool, empty client ids": ({"UserPoolId": POOL, "ClientIds": ""}, {NEEDS_CLIENT_IDS}),
    "existing pool, only commas": ({"UserPoolId": POOL, "ClientIds": ","}, {NEEDS_CLIENT_IDS}),
    "existing pool, only blanks": ({"UserPoolId": POOL, "ClientIds": " , "}, {NEEDS_CLIENT_IDS}),
    "existing pool, one client id": ({"UserPoolId": POOL, "ClientIds": "client-a"}, set()),
    "existing pool, two client ids": ({"UserPoolId": POOL, "ClientIds": "client-a, client-b"}, set()),
    "existing pool, a trailing comma": ({"UserPoolId": POOL, "ClientIds": "client-a,"}, set()),
    # The structured configuration replaces the Cognito settings in the authorizers: no client ids needed.
    "existing pool, structured config": ({"UserPoolId": POOL, "AuthzConfig": '{"issuers": []}'}, set()),
    "created pool": ({}, set()),
    "created pool, structured config": ({"AuthzConfig": '{"issuers": []}'}, set()),
    "created pool, client ids": ({"ClientIds": "client-a"}, {NO_CLIENT_IDS}),
    "created pool, client ids, structured config": (
        {"ClientIds": "client-a", "AuthzConfig": '{"issuers": []}'},
        {NO_CLIENT_IDS},
    ),
}


@pytest.mark.parametrize("case", RULE_CASES)
def test_rules_refuse_client_ids_that_do_not_match_the_pool_choice(case):
    parameters, refused_by = RULE_CASES[case]
    failures = cfn.rule_failures(parameters, source())
    assert set(failures) == refused_by, failures
    for descriptions in failures.values():
        for description in descriptions:
            assert "UserPoolId" in description and "ClientIds" in description, description


@all_scenarios
def test_rules_accept_every_scenario(scenario):
    assert cfn.RuleEvaluator(template(scenario), SCENARIOS[scenario]).failures() == {}


def test_rules_use_only_functions_cloudformation_allows_in_rules():
    def functions(node):
        if isinstance(node, list):
            for item in node:
                yield from functions(item)
        elif isinstance(node, dict):
            for key, item in node.items():
                if key == "Ref" or key.startswith("Fn::"):
                    yield key
                yield from functions(item)

    rules = template()["Rules"]
    assert set(rules) == {NEEDS_CLIENT_IDS, NO_CLIENT_IDS}
    for name, rule in rules.items():
        assert rule["Assertions"], name
        assert all(a.get("AssertDescription") for a in rule["Assertions"]), f"{name}: the deployer sees only this"
        used = set(functions(rule))
        assert used <= cfn.RULE_FUNCTIONS | {"Ref"}, f"{name}: {sorted(used - cfn.RULE_FUNCTIONS - {'Ref'})}"


# ------------------------------------------------------------------------------------------------------------
# The REST API's resource policy and gateway responses.
# ------------------------------------------------------------------------------------------------------------


def rest_api(scenario):
    (api,) = of_type(scenario, "AWS::ApiGateway::RestApi").values()
    return api["Properties"]


@all_scenarios
def test_the_resource_policy_follows_the_parameters(scenario):
    values = SCENARIOS[scenario]
    policy = {s["Sid"]: s for s in statements(rest_api(scenario)["Body"]["x-amazon-apigateway-policy"])}
    allow = policy.pop("CallersReachTheApi")
    assert (allow["Effect"], allow["Principal"], allow["Resource"]) == ("Allow", "*", "execute-api:/*")
    assert not allow.get("Condition")
    for statement in policy.values():
        assert statement["Effect"] == "Deny", statement
        assert statement["Action"] == "execute-api:Invoke", statement
    iam = policy.pop("IamRouteOnlyForTrustedAccounts")
    trusted = [cfn.ACCOUNT] + [a for a in values.get("TrustedAccountIds", "").split(",") if a]
    assert iam["Resource"] == "execute-api:/*/GET/iam"
    assert iam["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": trusted}}
    cidrs = [c for c in values.get("AllowedSourceCidrs", "").split(",") if c]
    endpoints = [e for e in values.get("VpcEndpointIds", "").split(",") if e]
    expected = {}
    if endpoints:
        expected["OnlyThroughAllowedVpcEndpoints"] = {"StringNotEquals": {"aws:SourceVpce": endpoints}}
    if cidrs:
        key = "aws:VpcSourceIp" if endpoints else "aws:SourceIp"
        sid = "OnlyFromAllowedVpcRanges" if endpoints else "OnlyFromAllowedSourceRanges"
        expected[sid] = {"NotIpAddress": {key: cidrs}}
    assert {sid: s["Condition"] for sid, s in policy.items()} == expected
    for statement in policy.values():
        assert statement["Resource"] == "execute-api:/*"
    endpoint = rest_api(scenario)["EndpointConfiguration"]
    assert endpoint["Types"] == (["PRIVATE"] if endpoints else ["REGIONAL"])
    assert endpoint.get("VpcEndpointIds", []) == endpoints


@all_scenarios
def test_gateway_responses_carry_cors_headers(scenario):
    origin = SCENARIOS[scenario].get("AllowedOrigin", "*")
    responses = rest_api(scenario)["Body"]["x-amazon-apigateway-gateway-responses"]
    assert set(responses) >= {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"}
    for kind, response in responses.items():
        assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'", kind
    for path, method, operation in operations(rest_api(scenario)["Body"]):
        parameters = operation["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        assert parameters["method.response.header.Access-Control-Allow-Origin"] == f"'{origin}'", (path, method)


@all_scenarios
def test_the_cognito_route_takes_the_configured_token_kind(scenario):
    body = rest_api(scenario)["Body"]
    scopes = body["paths"]["/cognito"]["get"]["security"][0]["CognitoAuthorizer"]
    access = SCENARIOS[scenario].get("TokenUse", "access") == "access"
    assert scopes == (["aws.cognito.signin.user.admin"] if access else [])
    providers = body["components"]["securitySchemes"]["CognitoAuthorizer"]["x-amazon-apigateway-authorizer"]["providerARNs"]
    pool = SCENARIOS[scenario].get("UserPoolId")
    assert providers == ([f"arn:aws:cognito-idp:{cfn.REGION}:{cfn.ACCOUNT}:userpool/{pool}"] if pool else ["<UserPool.Arn>"])


# ------------------------------------------------------------------------------------------------------------
# Revocation table, events, user pool, outputs.
# ------------------------------------------------------------------------------------------------------------


def test_the_revocation_table():
    table = resources("defaults")["RevocationTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_cognito_cloudtrail_events_reach_the_invalidator_and_failures_are_kept():
    all_resources = resources("defaults")
    rule = all_resources["CognitoChangesRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.cognito-idp"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["cognito-idp.amazonaws.com"]
    assert {"AdminUserGlobalSignOut", "GlobalSignOut", "RevokeToken", "AdminDisableUser"} <= set(pattern["detail"]["eventName"])
    (target,) = rule["Targets"]
    assert target["Arn"] == "<CacheInvalidatorFunction.Arn>"
    assert target["DeadLetterConfig"] == {"Arn": "<InvalidatorFailureQueue.Arn>"}
    (statement,) = statements(all_resources["InvalidatorFailureQueuePolicy"]["Properties"]["PolicyDocument"])
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == "<InvalidatorFailureQueue.Arn>"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "<CognitoChangesRule.Arn>"}}
    config = all_resources["CacheInvalidatorFunctionEventInvokeConfig"]["Properties"]
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": "<InvalidatorFailureQueue.Arn>"}}


def test_a_user_pool_is_created_only_without_an_existing_one():
    assert {"UserPool", "UserPoolClient"} <= set(resources("defaults"))
    assert not {"UserPool", "UserPoolClient"} & set(resources("existing-pool"))
    client = resources("defaults")["UserPoolClient"]["Properties"]
    assert client["EnableTokenRevocation"] is True and client["GenerateSecret"] is False
    assert resources("defaults")["UserPool"]["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}


@all_scenarios
def test_outputs(scenario):
    outputs = deployed(scenario)[1]
    assert outputs["RestApiUrl"] == f"https://<ExampleRestApi>.execute-api.{cfn.REGION}.amazonaws.com/v1"
    assert outputs["HttpApiUrl"] == f"https://<ExampleHttpApi>.execute-api.{cfn.REGION}.amazonaws.com/v1"
    assert outputs["AuthorizerInvokeRoleArn"] == "<AuthorizerInvokeRole.Arn>"
    for name in ("TokenAuthorizer", "RequestAuthorizer", "CacheInvalidator"):
        assert outputs[f"{name}FunctionArn"] == f"<{name}Function.Arn>"


def test_the_example_samconfig_names_real_parameters_with_valid_values():
    import tomllib

    config = tomllib.loads((cfn.ROOT / "samconfig.example.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM", "the stack creates IAM roles (without custom names)"
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"].split())
    parameters = source()["Parameters"]
    assert set(overrides) <= set(parameters), set(overrides) - set(parameters)
    resolver = cfn.Resolver(cfn.transformed(source(), overrides), overrides)
    assert cfn.rule_failures(overrides, source()) == {}
    for name, value in overrides.items():
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], name
        if "MinValue" in spec:
            assert spec["MinValue"] <= float(value) <= spec["MaxValue"], name
    assert resolver.resources()
