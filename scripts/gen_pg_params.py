#!/usr/bin/env python3
"""Generates src/pg/pg_params_table.cc: the parameters PostgreSQL 13 to 17 know, with type, unit, range and enum
values, for pg/param_check.cc.

The list of one installed major (15 here) comes from the server itself: a throw-away cluster is initialised and
started on a private unix socket, pg_settings gives names, types, units, ranges and enum values, and each enum
parameter is probed for the values PostgreSQL accepts without listing them (on/off/true/... for bool-like enums,
wal_level's archive and hot_standby): `postgres -C` on a postgresql.conf that sets them. The other majors are
derived from scripts/pg_params_versions.txt. No network.

    scripts/gen_pg_params.py [--bindir DIR] [--run-as USER] [--versions FILE] [--out FILE]

PostgreSQL refuses to run as root: when started by root, pass --run-as postgres.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_MAJOR, MAX_MAJOR = 13, 17
UNITS = {None: "kNone", "": "kNone", "B": "kBytes", "kB": "kKilobytes", "MB": "kMegabytes", "8kB": "kBlocks",
         "ms": "kMilliseconds", "s": "kSeconds", "min": "kMinutes"}
TYPES = {"bool": "kBool", "integer": "kInteger", "real": "kReal", "string": "kString", "enum": "kEnum",
         "internal": "kInternal"}
# Values some enum parameters accept without listing them in pg_settings (each one is probed, only the accepted
# ones are kept).
HIDDEN_CANDIDATES = ["on", "off", "true", "false", "yes", "no", "1", "0", "debug", "info", "archive", "hot_standby"]
SEP = "\x1f"


class Generator:
    def __init__(self, bindir, run_as):
        self.bindir = bindir
        self.run_as = run_as

    def argv(self, prog, *args):
        cmd = [os.path.join(self.bindir, prog), *args]
        return (["runuser", "-u", self.run_as, "--"] + cmd) if self.run_as else cmd

    def run(self, prog, *args, check=True):
        r = subprocess.run(self.argv(prog, *args), capture_output=True, text=True)
        if check and r.returncode != 0:
            sys.exit(f"{prog} {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def settings(self, tmp):
        data = os.path.join(tmp, "data")
        self.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        server = subprocess.Popen(self.argv("postgres", "-D", data, "-c", "listen_addresses=", "-k", tmp,
                                            "-p", "54329"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            query = ("SELECT name, vartype, context, coalesce(unit, ''), coalesce(min_val, ''), "
                     "coalesce(max_val, ''), array_to_string(enumvals, ',') FROM pg_settings ORDER BY lower(name)")
            deadline = time.monotonic() + 30
            while True:
                r = self.run("psql", "-h", tmp, "-p", "54329", "-U", "postgres", "-d", "postgres", "-X", "-A",
                             "-t", "-F", SEP, "-c", query, check=False)
                if r.returncode == 0:
                    break
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the throw-away PostgreSQL did not start: " + r.stderr.strip())
                time.sleep(0.2)
            version = self.run("postgres", "--version").stdout.strip()
        finally:
            # Through runuser, a signal to `server` would not reach the postmaster: pg_ctl stops it.
            self.run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop", check=False)
            server.wait(timeout=60)
        rows = []
        for line in r.stdout.splitlines():
            name, vartype, context, unit, lo, hi, values = line.split(SEP)
            if unit not in UNITS:
                sys.exit(f"{name}: unit {unit!r} is not known to this script")
            rows.append({"name": name, "type": "internal" if context == "internal" else vartype, "unit": unit,
                         "min": lo, "max": hi, "values": values.split(",") if vartype == "enum" else [],
                         "hidden": [], "since": MIN_MAJOR, "until": None})
        return version, rows

    def probe_hidden(self, tmp, rows):
        """Adds to each enum row the candidate values `postgres -C` accepts although pg_settings does not list them."""
        probe = os.path.join(tmp, "probe")
        os.mkdir(probe)
        if self.run_as:
            shutil.chown(probe, self.run_as)
        enums = [r for r in rows if r["type"] == "enum"]
        for cand in HIDDEN_CANDIDATES:
            tried = [r for r in enums if cand not in [v.lower() for v in r["values"]]]
            with open(os.path.join(probe, "postgresql.conf"), "w") as f:
                f.writelines(f"{r['name']} = '{cand}'\n" for r in tried)
            res = self.run("postgres", "-D", probe, "-C", "port", check=False)
            refused = {line.split('"')[1] for line in res.stderr.splitlines()
                       if "invalid value for parameter" in line}
            errors = [line for line in res.stderr.splitlines() if "LOG:" in line and "invalid value" not in line
                      and "skipping missing configuration file" not in line]
            if errors:
                sys.exit(f"probing {cand!r}: unexpected errors: {errors}")
            if res.returncode != 0 and not refused:
                sys.exit(f"probing {cand!r} failed: {res.stderr.strip()}")
            for r in tried:
                if r["name"] not in refused:
                    r["hidden"].append(cand)


def parse_versions(path, rows):
    by_name = {r["name"].lower(): r for r in rows}
    extra = []
    for lineno, line in enumerate(open(path), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{path}:{lineno}"
        kind, name = words[0], words[1]
        if kind in ("since", "until"):
            if name.lower() not in by_name:
                sys.exit(f"{where}: {name} is not in the generated list")
            by_name[name.lower()][kind] = int(words[2])
        elif kind == "param":
            row = {"name": name, "since": int(words[2]), "until": None if words[3] == "-" else int(words[3]),
                   "type": words[4], "unit": "", "min": "", "max": "", "values": [], "hidden": []}
            if row["type"] not in TYPES:
                sys.exit(f"{where}: unknown type {row['type']}")
            for opt in words[5:]:
                key, _, value = opt.partition("=")
                if key in ("values", "hidden"):
                    row[key] = value.split(",")
                elif key in ("unit", "min", "max"):
                    row[key] = value
                else:
                    sys.exit(f"{where}: unknown option {opt}")
            if row["unit"] not in UNITS:
                sys.exit(f"{where}: unknown unit {row['unit']}")
            extra.append(row)
        else:
            sys.exit(f"{where}: unknown entry {kind}")
    return sorted(rows + extra, key=lambda r: (r["name"].lower(), r["since"]))


def number(text):
    if text == "":
        return "0"
    v = float(text)
    if abs(v) >= 1.79769e308:  # pg_settings prints DBL_MAX rounded down
        return "-DBL_MAX" if v < 0 else "DBL_MAX"
    return text if v == int(v) and "e" not in text.lower() and "." not in text else repr(v)


def render(version, rows):
    out = [
        f"// GENERATED by scripts/gen_pg_params.py from {version} (pg_settings) and",
        "// scripts/pg_params_versions.txt. Do not edit by hand: regenerate (docs/configuration.md).",
        "// Row: name, since, until (0 = still present), type, unit, min, max, \"listed|hidden\" enum values.",
        "#include <cfloat>",
        "",
        '#include "pg/pg_params_table.h"',
        "",
        "namespace pgw {",
        "namespace {",
        "",
        "using T = PgParamType;",
        "using U = PgUnit;",
        "",
        "constexpr PgParamSpec kParams[] = {",
    ]
    for r in rows:
        values = ",".join(r["values"]) + ("|" + ",".join(r["hidden"]) if r["hidden"] else "")
        values = '"' + values + '"' if r["type"] == "enum" else "nullptr"
        until = r["until"] or 0
        out.append(f'    {{"{r["name"]}", {r["since"]}, {until}, T::{TYPES[r["type"]]}, U::{UNITS[r["unit"]]}, '
                   f'{number(r["min"])}, {number(r["max"])}, {values}}},')
    out += ["};", "", "}  // namespace", "",
            "std::span<const PgParamSpec> PgParamTable() { return kParams; }", "",
            f"int PgParamTableMinMajor() {{ return {MIN_MAJOR}; }}",
            f"int PgParamTableMaxMajor() {{ return {MAX_MAJOR}; }}", "",
            "}  // namespace pgw", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_bindir = ""
    if shutil.which("pg_config"):
        default_bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    ap.add_argument("--bindir", default=default_bindir or "/usr/lib/postgresql/15/bin")
    ap.add_argument("--run-as", default=None, help="run PostgreSQL as this user (needed when run by root)")
    ap.add_argument("--versions", default=os.path.join(HERE, "pg_params_versions.txt"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "src", "pg", "pg_params_table.cc"))
    args = ap.parse_args()
    if os.geteuid() == 0 and not args.run_as:
        sys.exit("PostgreSQL does not run as root: pass --run-as postgres")
    gen = Generator(args.bindir, args.run_as)
    tmp = tempfile.mkdtemp(prefix="gen_pg_params.")
    try:
        if args.run_as:
            shutil.chown(tmp, args.run_as)
        version, rows = gen.settings(tmp)
        gen.probe_hidden(tmp, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    match = re.search(r"\(PostgreSQL\) (\d+)\.(\d+)", version)
    if not match:
        sys.exit(f"cannot read the version from {version!r}")
    major, version = int(match.group(1)), f"PostgreSQL {match.group(1)}.{match.group(2)}"
    if major != 15:
        sys.exit(f"{version}: scripts/pg_params_versions.txt describes the differences from 15")
    with open(args.out, "w") as f:
        f.write(render(version, parse_versions(args.versions, rows)))
    print(f"wrote {args.out} from {version}")


if __name__ == "__main__":
    main()
