"""Writes the template `sam build` compiles in CI: template.yaml's Rust functions only, CodeUri pointing at the
clone, for the architecture this machine can build. Prints what it changed. Usage:
    sam_build_template.py OUT.json ARCH BIN [BIN ...]
ARCH is the architecture to build (arm64 or x86_64); BIN are the binaries the workspace has. A function whose
binary is not in the workspace is an error: the template would not deploy."""

import json
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[1]


def main(out, arch, *binaries):
    source = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    declared = source["Globals"]["Function"]["Architectures"]
    if declared != [arch]:
        print(f"sam build: the template deploys {declared[0]}; this machine builds {arch} "
              f"(no {declared[0]} Rust target installed), so CI builds a copy for {arch}", file=sys.stderr)
    functions = {}
    for name, resource in source["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            continue
        binary = metadata["BuildProperties"]["Binary"]
        if binary not in binaries:
            sys.exit(f"sam build: {name}: the workspace has no binary {binary!r}")
        if resource["Properties"].get("CodeUri") != ".":
            sys.exit(f"sam build: {name}: CodeUri must be the workspace root (.)")
        functions[name] = {
            "Type": resource["Type"],
            "Metadata": metadata,
            "Properties": {"CodeUri": str(ROOT), "Handler": resource["Properties"]["Handler"]},
        }
    if not functions:
        sys.exit("sam build: no function to build")
    globals_ = {key: value for key, value in source["Globals"]["Function"].items() if key in ("Runtime", "MemorySize")}
    globals_["Architectures"] = [arch]
    template = {
        "AWSTemplateFormatVersion": source["AWSTemplateFormatVersion"],
        "Transform": source["Transform"],
        "Globals": {"Function": globals_},
        "Resources": functions,
    }
    Path(out).write_text(json.dumps(template, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
