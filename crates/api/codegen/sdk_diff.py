#!/usr/bin/env python3
"""Compare the generated wire types with the official Python SDK's models.

The spec lags behind the SDK: the SDK sends and reads fields the spec does not list. This
script finds them, so that `generate.py`'s SDK overlay (SDK_FIELDS, SDK_SCHEMAS) can be
kept complete when a new SDK release comes out.

Usage (standard library only):
  pip download alibabacloud-pai-dlc20201203==1.11.6 --no-deps -d <dir>
  (cd <dir> && unzip -q *.whl)
  python3 crates/api/codegen/sdk_diff.py <dir>/alibabacloud_pai_dlc20201203/models

It reports, for every model both sides define: fields only the SDK has (add them to the
overlay), fields only we have, and fields whose types differ. Exit status 1 if anything
is missing or mistyped.
"""

import ast
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402

PY_SCALARS = {"str": "string", "int": "i64", "float": "f64", "bool": "bool", "Any": "value",
              "dict": "value"}


def sdk_type(annotation):
    """An SDK type annotation (`List[main_models.JobSpec]`) in the generator's notation."""
    node = ast.parse(annotation, mode="eval").body
    return _sdk_type(node)


def _sdk_type(node):
    if isinstance(node, ast.Name):
        return PY_SCALARS.get(node.id, ("struct", node.id))
    if isinstance(node, ast.Attribute):  # main_models.Foo
        return ("struct", node.attr)
    if isinstance(node, ast.Subscript):
        outer = node.value.id
        if outer == "List":
            return ("vec", _sdk_type(node.slice))
        if outer == "Dict":
            return ("map", _sdk_type(node.slice.elts[1]))
    raise ValueError(ast.dump(node))


def sdk_models(models_dir):
    """{class name: {wire name: type}} from the SDK's `to_map` methods."""
    models = {}
    for path in sorted(glob.glob(os.path.join(models_dir, "_*.py"))):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for cls in tree.body:
            if not isinstance(cls, ast.ClassDef):
                continue
            methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
            if "__init__" not in methods or "to_map" not in methods:
                continue
            types = {a.arg: ast.unparse(a.annotation) for a in methods["__init__"].args.args[1:]
                     if a.annotation is not None}
            fields = {}
            for node in ast.walk(methods["to_map"]):
                # if self.<attr> is not None: result['<Wire>'] = ...
                if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                        and isinstance(node.test.left, ast.Attribute)):
                    continue
                attr = node.test.left.attr
                for sub in ast.walk(node):
                    if (isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name)
                            and sub.value.id == "result" and isinstance(sub.slice, ast.Constant)):
                        if attr in types:
                            fields[sub.slice.value] = sdk_type(types[attr])
                        break
            models[cls.name] = fields
    return models


def same_type(ours, theirs):
    # A free-form object is `serde_json::Value` here and `Dict[str, Any]` in the SDK.
    return ours == theirs or (ours == "value" and theirs == ("map", "value"))


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sdk = sdk_models(sys.argv[1])
    with open(generate.SPEC, encoding="utf-8") as f:
        builder = generate.Builder(json.load(f))
    builder.build()
    problems = 0
    for name in builder.order:
        model = builder.models[name]
        if name not in sdk:
            continue
        ours = {f.wire: f.ty for f in model.fields}
        theirs = sdk[name]
        only_sdk = sorted(w for w in theirs if w not in ours)
        only_ours = sorted(w for w in ours if w not in theirs)
        mistyped = sorted(w for w in ours if w in theirs and not same_type(ours[w], theirs[w]))
        if only_sdk or only_ours or mistyped:
            print("== %s" % name)
        for w in only_sdk:
            print("  SDK only:  %s: %s" % (w, theirs[w]))
        for w in only_ours:
            print("  ours only: %s" % w)
        for w in mistyped:
            print("  type:      %s: ours %s, SDK %s" % (w, ours[w], theirs[w]))
        problems += len(only_sdk) + len(mistyped)
    print("%d model(s) compared, %d problem(s)" % (sum(1 for n in builder.order if n in sdk), problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
