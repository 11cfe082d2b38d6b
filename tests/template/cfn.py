"""Load template.yaml, transform it with the SAM translator (offline), and resolve its intrinsic functions
for one set of parameter values, so the tests can assert on the CloudFormation that would be deployed."""

import copy
import json
import os
from pathlib import Path

from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PARTITION = "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::StackName": "authz",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/authz/1",
    "AWS::NotificationARNs": [],
}


class NoValue:
    """AWS::NoValue: dropped from the enclosing map or list."""


def load_source(path=TEMPLATE):
    """The SAM template as plain Python data (short-form tags become their long form)."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


class _NoManagedPolicies:
    def load(self):
        return {}


def transformed(source, parameters=None):
    """The CloudFormation template SAM would produce for these parameter values (SAM resolves some references
    to parameters itself, as it does when CloudFormation runs the transform; the rest stay intrinsics).
    Offline: the region comes from the environment, never from an AWS endpoint."""
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    source = copy.deepcopy(source)
    # What `sam package` does before the transform runs in CloudFormation: local code becomes an S3 object.
    for name, resource in source["Resources"].items():
        code = resource.get("Properties", {}).get("CodeUri")
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(code, str) and not code.startswith("s3://"):
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{name}.zip"
    values = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION}
    for name, value in (parameters or {}).items():
        kind = source["Parameters"][name]["Type"]
        values[name] = value.split(",") if kind == "CommaDelimitedList" and isinstance(value, str) else str(value)
    return transform(source, values, _NoManagedPolicies())


def ref_value(logical_id):
    return f"<{logical_id}>"


def getatt_value(logical_id, attribute):
    return f"<{logical_id}.{attribute}>"


def parameter_values(template, parameters=None):
    """Each template parameter's value as CloudFormation passes it on: the given value, else the default; a
    Number as its string; a CommaDelimitedList as its space-trimmed members, one more than the commas (so "" is
    [""]). A parameter without a value, or a given name the template does not declare, is an error."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        value = (parameters or {}).get(name, spec.get("Default"))
        if value is None:
            raise KeyError(f"parameter {name} has no value")
        value = str(value)
        if spec.get("Type") == "CommaDelimitedList":
            value = [member.strip() for member in value.split(",")]
        values[name] = value
    unknown = set(parameters or {}) - set(values)
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}")
    return values


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If and the condition functions.
    Resources resolve to placeholders: Ref X -> "<X>", GetAtt X.Arn -> "<X.Arn>"."""

    def __init__(self, template, parameters=None):
        self.template = template
        self.parameters = parameter_values(template, parameters)
        self._conditions = {}

    def condition(self, name):
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def ref(self, name):
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::NoValue":
            return NoValue
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.template["Resources"]:
            return ref_value(name)
        raise KeyError(f"Ref to unknown {name}")

    def sub(self, text, variables):
        out, i = [], 0
        while i < len(text):
            if text.startswith("${!", i):
                end = text.index("}", i)
                out.append("${" + text[i + 3 : end] + "}")
                i = end + 1
            elif text.startswith("${", i):
                end = text.index("}", i)
                name = text[i + 2 : end]
                if name in variables:
                    value = variables[name]
                elif "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                    value = getatt_value(*name.split(".", 1))
                else:
                    value = self.ref(name)
                out.append(str(value))
                i = end + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def value(self, node):
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NoValue]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                if logical not in self.template["Resources"]:
                    raise KeyError(f"GetAtt of unknown {logical}")
                return getatt_value(logical, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.value(v) for k, v in variables.items()})
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(item) for item in self.value(items))
            if key == "Fn::Split":
                separator, text = arg
                return self.value(text).split(separator)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.value(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.value(item) for item in arg)
                return left == right
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(item) for item in arg)
            if key == "Fn::Or":
                return any(self.value(item) for item in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise NotImplementedError(key)
        items = {key: self.value(item) for key, item in node.items()}
        return {key: item for key, item in items.items() if item is not NoValue}

    def resources(self):
        """Every resource whose condition holds, with its properties resolved."""
        out = {}
        for name, resource in self.template["Resources"].items():
            condition = resource.get("Condition")
            if condition and not self.condition(condition):
                continue
            out[name] = self.value({k: v for k, v in resource.items() if k != "Condition"})
        return out

    def outputs(self):
        out = {}
        for name, output in self.template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition and not self.condition(condition):
                continue
            out[name] = self.value(output["Value"])
        return out


def deployed(parameters=None, source=None):
    """(resources, outputs, transformed template) for these parameter values."""
    template = transformed(source if source is not None else load_source(), parameters)
    resolver = Resolver(template, parameters)
    return resolver.resources(), resolver.outputs(), template


# The functions CloudFormation allows in a template's Rules section: these and Ref, nothing else (no Fn::Join,
# Fn::If or Fn::Sub). cfn-lint does not enforce this, so the tests do.
RULE_FUNCTIONS = frozenset({
    "Fn::And", "Fn::Or", "Fn::Not", "Fn::Equals", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn",
    "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll",
})


class RuleEvaluator:
    """Evaluates the template's Rules for one set of parameter values, as CloudFormation does before it creates a
    change set: a rule whose RuleCondition holds (or that has none) fails on each Assert that is false. Ref of a
    CommaDelimitedList is its members, space-trimmed, one more than the commas (so "" is [""]). The functions that
    read the account (Fn::RefAll, Fn::ValueOf, Fn::ValueOfAll) are not evaluated offline."""

    def __init__(self, template, parameters=None):
        self.template = template
        self.parameters = parameter_values(template, parameters)

    def value(self, node):
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        (key, arg), = node.items()
        if key == "Ref":
            return self.parameters[arg]
        if key not in RULE_FUNCTIONS:
            raise ValueError(f"{key} is not allowed in Rules")
        if key == "Fn::And" or key == "Fn::Or":
            if not 2 <= len(arg) <= 10:
                raise ValueError(f"{key} takes 2 to 10 conditions")
            results = [self.boolean(item) for item in arg]
            return all(results) if key == "Fn::And" else any(results)
        if key == "Fn::Not":
            (condition,) = arg
            return not self.boolean(condition)
        if key == "Fn::Equals":
            left, right = (self.value(item) for item in arg)
            return left == right
        if key == "Fn::Contains":
            strings, string = (self.value(item) for item in arg)
            return string in self.strings(strings)
        if key == "Fn::EachMemberEquals":
            strings, string = (self.value(item) for item in arg)
            return all(member == string for member in self.strings(strings))
        if key == "Fn::EachMemberIn":
            to_check, to_match = (self.strings(self.value(item)) for item in arg)
            return all(member in to_match for member in to_check)
        raise NotImplementedError(f"{key} reads the AWS account")

    def boolean(self, node):
        result = self.value(node)
        if not isinstance(result, bool):
            raise ValueError(f"{node} is not a condition")
        return result

    @staticmethod
    def strings(value):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{value!r} is not a list of strings")
        return value

    def failures(self):
        """{rule name: [AssertDescription of each failed assertion]} for the rules that refuse these values."""
        out = {}
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.boolean(rule["RuleCondition"]):
                continue
            failed = [a.get("AssertDescription", "") for a in rule["Assertions"] if not self.boolean(a["Assert"])]
            if failed:
                out[name] = failed
        return out


def rule_failures(parameters=None, source=None):
    """The Rules that would refuse these parameter values, evaluated on the template CloudFormation receives."""
    template = transformed(source if source is not None else load_source(), parameters)
    return RuleEvaluator(template, parameters).failures()
