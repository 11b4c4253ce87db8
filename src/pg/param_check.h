// Checks postgresql.conf parameters against what a PostgreSQL major version accepts (pg/pg_params_table.h), so that
// a value PostgreSQL would refuse is caught before PostgreSQL is started. Values are parsed the way PostgreSQL
// parses them (guc.c): booleans with their unique prefixes, integers in decimal, octal or hex, reals, memory and
// time units ('128MB', '5min', '500ms', converted to the parameter's unit), enums case-insensitively, including the
// values PostgreSQL accepts without listing them (on/true/yes/1 for bool-like enums). Pure functions, any thread.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {

struct ParamVerdict {
  enum class Kind {
    kOk,
    kUnchecked,  // a custom parameter (a dot in the name), or a major the table does not describe
    kBadName,    // not a name postgresql.conf can hold
    kUnknown,    // not a parameter of this major
    kReadOnly,   // internal: set when PostgreSQL was built or initdb ran
    kInvalid,    // PostgreSQL would refuse the value
    kBelowMin,   // a number below the minimum: `bound` is the minimum
    kAboveMax,   // a number above the maximum: `bound` is the maximum
  };
  Kind kind = Kind::kOk;
  std::string why;  // for every kind but kOk and kUnchecked: what is wrong, with the allowed values or range
  Json bound;       // kBelowMin, kAboveMax: the limit, as a number in the parameter's unit
};

// What PostgreSQL `major` makes of `name = value` in postgresql.conf; `value` is the text PostgreSQL reads
// (ConfText of the JSON value).
ParamVerdict CheckParameter(int major, const std::string& name, const std::string& value);

// `params` with what PostgreSQL `major` would refuse taken care of, as Patroni does: an unknown or read-only
// parameter or an invalid value is left out (PostgreSQL uses its default), a number out of range is replaced by
// the minimum or maximum. Each change is reported in `warnings` as "postgresql.parameters.<name>: ...", with the
// value and the reason. Custom parameters (a dot in the name, e.g. pg_stat_statements.max) pass unchecked.
// Outside the majors the table describes (PgParamTableMinMajor..Max) `params` is returned unchanged; for a major
// above it one warning says that parameters are not checked. `major` 0 (unknown) returns `params` unchanged.
Json CheckParameters(int major, const Json& params, std::vector<std::string>* warnings);

}  // namespace pgw
