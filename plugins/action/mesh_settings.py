# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action side of istiolab.mesh.mesh_settings: every setting of the run checked at once, on the controller.

Each role's meta/argument_specs.yml is checked against the value the role will see (the play's variables over the
role's defaults, templated as the role would), option by option, so each problem belongs to one variable; each
scenario's cross-field rules come from the role's own templates/problems.j2, the same file the role's validate.yml
renders. A problem names the variable the user sets (mesh_minikube_memory, not preflight_memory), what it takes and an
example.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import os
import re

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

try:  # ansible-core 2.19 templates only what is trusted; a role's own files are.
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core trusts every string
    def trust_as_template(value):
        return value

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES_DIR = os.path.join(COLLECTION_ROOT, "roles")
# The prefixes of the collection's variables: an unknown variable with one of them is most likely a typo.
PREFIXES = ("mesh_", "routing_", "bookinfo_", "preflight_", "istio_", "telemetry_", "elk_", "resilience_", "policy_",
            "minikube_", "teardown_", "render_")
# Variables that only playbooks (not roles) read.
PLAYBOOK_VARIABLES = ("teardown_keep_cluster", "teardown_keep_istio", "render_dir")
# Settings that the playbooks read (not a role): each checked like a role's option when the play sets it.
PLAY_SETTINGS = {
    "mesh_report_screenshots": {
        "type": "bool", "default": False,
        "description": ["Take headless Chromium screenshots of productpage (signed out, signed in as jason), Grafana's Istio Mesh",
                        "Dashboard and Kiali's graph for the proof report."]},
}
VARIABLE_CHAIN = re.compile(r"\b([a-z][a-z0-9_]*)\s*\|\s*default\(")
UNIT = re.compile(r"\b(?:in|of) (MB|GB|seconds|percent|milliseconds)\b")
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt])i?b?\s*$", re.IGNORECASE)
SIZE_MB = {"k": 1.0 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def names_read():
    """Every name with one of the collection's prefixes that its roles and playbooks read or set."""
    pattern = re.compile(r"(?<![A-Za-z0-9_])((?:%s)[a-z0-9_]+)" % "|".join(PREFIXES))
    names = set()
    for top in (ROLES_DIR, os.path.join(COLLECTION_ROOT, "playbooks")):
        for directory, _dirs, files in os.walk(top):
            for filename in files:
                if filename.endswith((".yml", ".yaml", ".j2")):
                    with open(os.path.join(directory, filename), encoding="utf-8") as handle:
                        names.update(pattern.findall(handle.read()))
    return names


def _minor(version):
    match = re.match(r"^v?(\d+)\.(\d+)", str(version))
    return (int(match.group(1)), int(match.group(2))) if match else None


class Role:
    """A role's defaults, vars and argument specs, read from this collection's roles/ directory."""

    def __init__(self, loader, name):
        self.name = name
        self.path = os.path.join(ROLES_DIR, name)
        if not os.path.isdir(self.path):
            raise AnsibleError("mesh_settings: the collection has no role %s (looked in %s)" % (name, ROLES_DIR))
        self.defaults = self._load(loader, "defaults")
        self.vars = self._load(loader, "vars")
        specs = self._load(loader, "meta", "argument_specs.yml").get("argument_specs") or {}
        self.specs = dict((entry, (spec or {}).get("options") or {}) for entry, spec in specs.items())

    def _load(self, loader, directory, filename="main.yml"):
        path = os.path.join(self.path, directory, filename)
        if not os.path.exists(path):
            return {}
        return loader.load_from_file(path, trusted_as_template=True) or {}

    def known(self):
        names = set(self.defaults) | set(self.vars)
        for options in self.specs.values():
            names.update(options)
        return names


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("roles", "scenarios", "known_tags", "extra_known"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        roles_asked = list(args.get("roles") or [])
        scenarios = dict(args.get("scenarios") or {})
        known_tags = set(args.get("known_tags") or []) | {"all", "always", "never", "tagged", "untagged"}

        roles = {}
        for name in set(roles_asked) | set(scenarios.values()):
            roles[name] = Role(self._loader, name)  # a role this collection does not have fails here, by name
        for name in ("preflight", "minikube", "istio", "bookinfo", "telemetry", "elk", "routing", "resilience", "policy"):
            if name not in roles and os.path.isdir(os.path.join(ROLES_DIR, name)):
                roles[name] = Role(self._loader, name)
        raw_defaults = {}
        for role in roles.values():
            raw_defaults.update(role.defaults)

        problems = []
        # -- tags: a tag that names nothing the play knows runs nothing, which looks like success.
        for kind, var in (("--tags", "ansible_run_tags"), ("--skip-tags", "ansible_skip_tags")):
            for tag in task_vars.get(var) or []:
                if tag not in known_tags:
                    near = difflib.get_close_matches(tag, sorted(known_tags), n=1)
                    problems.append("%s %s names nothing this play runs%s; its tags are %s." % (
                        kind, tag, (" (did you mean %s?)" % near[0]) if near else "",
                        ", ".join(sorted(known_tags - {"all", "always", "never", "tagged", "untagged"}))))

        # -- each role's settings, by its argument spec, then each scenario's cross-field rules.
        entries = [(name, "main", None) for name in roles_asked]
        by_role = {}
        for scenario, role in scenarios.items():
            by_role.setdefault(role, []).append(scenario)
        for role, names in sorted(by_role.items()):
            entries.append((role, names[0], names))
        checked = set()
        # Two roles reading the same variable (minikube_memory and preflight_memory both follow mesh_minikube_memory)
        # report it once.
        reported = set()
        for role_name, entry, role_scenarios in entries:
            role = roles[role_name]
            templar = self._role_templar(role, task_vars, raw_defaults)
            options = role.specs.get(entry) or role.specs.get("main") or {}
            for option, spec in options.items():
                if (role_name, option) in checked:
                    continue
                checked.add((role_name, option))
                problem = self._check_option(templar, role, option, spec, task_vars, raw_defaults)
                if problem and problem[0] not in reported:
                    reported.add(problem[0])
                    problems.append(problem[1])
            # The rules know the role's measured scenarios (scenario_reset has none of its own).
            ruled = [s for s in role_scenarios or [] if s in role.vars.get("__%s_known_scenarios" % role_name, [])]
            if ruled and os.path.exists(os.path.join(role.path, "templates", "problems.j2")):
                problems.extend(self._scenario_problems(templar, role, ruled, task_vars, raw_defaults))
        problems.extend(self._version_problems(roles, task_vars, raw_defaults, roles_asked))
        problems.extend(self._play_problems(task_vars, raw_defaults))

        # -- typos: an unknown variable with the collection's prefix changes nothing, silently.
        known = set(PLAYBOOK_VARIABLES) | set(args.get("extra_known") or []) | names_read()
        for role in roles.values():
            known |= role.known()
        warnings = []
        for name in sorted(task_vars):
            if not isinstance(name, str) or name in known or name.startswith("__"):
                continue
            if name.startswith(PREFIXES) or any(name.startswith(s + "_") for s in scenarios) or \
                    any(name.startswith(s + "_") for role in roles.values() for s in role.vars.get(
                        "__%s_known_scenarios" % role.name, [])):
                near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                warnings.append("%s is not a setting of this collection, so it changes nothing%s" % (
                    name, ("; did you mean %s?" % near[0]) if near else "."))
        if warnings:
            result["warnings"] = warnings

        # For the roles' own later messages (preflight's resource checks): each checked option's name as the user sets it.
        result["ansible_facts"] = {"mesh_settings_names": dict(
            (option, self.user_name(option, task_vars, raw_defaults)) for _role, option in sorted(checked))}
        result["changed"] = False
        result["problems"] = problems
        result["unknown_variables"] = warnings
        result["problems"] = problems
        if problems:
            result["failed"] = True
            result["msg"] = "Bad settings, nothing was changed. Fix each of these and run again:\n- " + "\n- ".join(problems)
        else:
            result["msg"] = "All settings of the roles and scenarios of this run are valid."
        return result

    # ---- helpers -------------------------------------------------------------------------------------
    def _role_templar(self, role, task_vars, raw_defaults):
        available = dict(raw_defaults)
        available.update(task_vars)
        for name, value in role.defaults.items():
            if name not in task_vars:
                available[name] = value
        available.update(role.vars)
        return self._templar.copy_with_new_env(available_variables=available)

    @staticmethod
    def _is_set(name, task_vars, raw_defaults):
        """Whether the play sets ``name`` itself (inventory, play vars, -e), not only a role default."""
        if name not in task_vars:
            return False
        return name not in raw_defaults or task_vars[name] != raw_defaults[name]

    def user_name(self, option, task_vars, raw_defaults):
        """The variable a person sets for ``option``: itself when set, else the first set one its default reads."""
        chain = [option]
        seen = set(chain)
        while True:
            raw = raw_defaults.get(chain[-1])
            names = [n for n in VARIABLE_CHAIN.findall(raw) if n not in seen] if isinstance(raw, str) else []
            if not names:
                break
            for name in names:
                seen.add(name)
            chain.extend(names)
        for name in chain:
            if self._is_set(name, task_vars, raw_defaults):
                return name
        mesh = [n for n in chain if n.startswith("mesh_")]
        return mesh[-1] if mesh else option

    def _template(self, templar, value):
        return templar.template(value)

    def _check_option(self, templar, role, option, spec, task_vars, raw_defaults):
        value = templar.available_variables.get(option, spec.get("default"))
        try:
            value = self._template(templar, value)
        except Exception as exc:  # a value that cannot be templated is a problem of that value
            name = self.user_name(option, task_vars, raw_defaults)
            return name, "%s cannot be read: %s" % (name, exc)
        if value is None and option not in templar.available_variables:
            return None
        validator = ArgumentSpecValidator({option: spec})
        outcome = validator.validate({option: value})
        errors = list(outcome.error_messages)
        if not errors and self._auto_or_int(spec) and str(value).strip() != "auto":
            # A size that takes "auto" or a number (type raw in the spec): the number must be a whole one.
            int_outcome = ArgumentSpecValidator({option: dict(spec, type="int")}).validate({option: value})
            errors = list(int_outcome.error_messages)
            spec = dict(spec, type="int")
        if not errors:
            return None
        return self.user_name(option, task_vars, raw_defaults), self.describe(
            option, spec, value, errors, task_vars, raw_defaults)

    @staticmethod
    def _auto_or_int(spec):
        """An option of type raw whose default is auto: it takes auto or a whole number."""
        return spec.get("type") == "raw" and str(spec.get("default")) == "auto"

    def describe(self, option, spec, value, errors, task_vars, raw_defaults):
        name = self.user_name(option, task_vars, raw_defaults)
        description = spec.get("description") or []
        if isinstance(description, str):
            description = [description]
        text = " ".join(description)
        unit = UNIT.search(text)
        example = spec.get("default")
        kind = spec.get("type", "str")
        if spec.get("choices"):
            what = "choose one of %s" % ", ".join(str(c) for c in spec["choices"])
        elif kind == "int":
            what = "give a whole number%s" % ((" of " + unit.group(1)) if unit else "")
            if str(raw_defaults.get(option)) == "auto" or str(spec.get("default")) == "auto":
                what += " or auto"
        elif kind == "float":
            what = "give a number%s" % ((" of " + unit.group(1)) if unit else "")
        elif kind == "bool":
            what = "give true or false"
        elif kind == "list":
            what = "give a list%s" % ((" of " + spec["elements"]) if spec.get("elements") else "")
        elif kind == "dict":
            what = "give a mapping"
        else:
            what = "; ".join(e.replace("'%s'" % option, name).replace(option, name) for e in errors)
        hint = ""
        size = SIZE.match(str(value)) if kind == "int" and unit and unit.group(1) == "MB" else None
        if size:
            hint = " (%s is %d MB)" % (str(value).strip(), int(float(size.group(1)) * SIZE_MB[size.group(2).lower()]))
            example = int(float(size.group(1)) * SIZE_MB[size.group(2).lower()])
        shown = json.dumps(value, default=str)
        return "%s is %s: %s, for example %s=%s%s." % (
            name, shown, what, name, json.dumps(example, default=str) if example is not None else "...", hint)

    def _scenario_problems(self, templar, role, role_scenarios, task_vars, raw_defaults):
        path = os.path.join(role.path, "templates", "problems.j2")
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        available = dict(templar.available_variables)
        available["__%s_validate" % role.name] = role_scenarios
        rendered = templar.copy_with_new_env(available_variables=available).template(trust_as_template(source))
        found = json.loads(rendered) if isinstance(rendered, str) else list(rendered)
        # The rules name the role's variables; name the ones the user sets instead.
        out = []
        for problem in found:
            first = problem.split(" ", 1)[0].split(".", 1)[0]
            if first in raw_defaults:
                problem = self.user_name(first, task_vars, raw_defaults) + problem[len(first):]
            out.append(problem)
        return out

    def _play_problems(self, task_vars, raw_defaults):
        problems = []
        for name, spec in sorted(PLAY_SETTINGS.items()):
            if name not in task_vars:
                continue
            try:
                value = self._templar.template(task_vars[name])
            except Exception as exc:  # a value that cannot be templated is a problem of that value
                problems.append("%s cannot be read: %s" % (name, exc))
                continue
            errors = list(ArgumentSpecValidator({name: spec}).validate({name: value}).error_messages)
            if errors:
                problems.append(self.describe(name, spec, value, errors, task_vars, raw_defaults))
        return problems

    def _version_problems(self, roles, task_vars, raw_defaults, roles_asked):
        problems = []
        if "istio" in roles and "istio" in roles_asked:
            templar = self._role_templar(roles["istio"], task_vars, raw_defaults)
            lines = [str(line) for line in roles["istio"].vars.get("__istio_supported_lines", [])]
            version = str(self._template(templar, templar.available_variables.get("istio_version")))
            match = VERSION.match(version)
            if lines and (not match or "%s.%s" % match.group(1, 2) not in lines or version.startswith("v")):
                name = self.user_name("istio_version", task_vars, raw_defaults)
                problems.append("%s is %s: this collection supports the Istio %s line%s; give an exact release of it, "
                                "for example %s=%s.%s." % (
                                    name, json.dumps(version), ", ".join(lines), "s" if len(lines) > 1 else "",
                                    name, lines[-1], "1" if not match or "%s.%s" % match.group(1, 2) not in lines
                                    else match.group(3)))
        if "minikube" in roles and "minikube" in roles_asked:
            templar = self._role_templar(roles["minikube"], task_vars, raw_defaults)
            version = str(self._template(templar, templar.available_variables.get("minikube_version")))
            if not re.match(r"^v\d+\.\d+\.\d+$", version):
                name = self.user_name("minikube_version", task_vars, raw_defaults)
                problems.append("%s is %s: give a minikube release tag, for example %s=v1.39.0." % (
                    name, json.dumps(version), name))
        return problems
