# Sensitive signal guard: decides whether a MATRIZ sensitive-event document
# may be processed. `allow` is true only when no `deny` rule fires; each
# `deny` message names one problem. Document shape and rules: README.md.
package matriz.governance

import rego.v1

default allow := false

allow if {
	is_object(input)
	count(deny) == 0
}

# Regions where sensitive data may be exported to.
approved_regions := {"eu-central-1", "eu-north-1", "eu-west-1"}

# Longest retention, in days, per sensitivity level.
retention_limit_days := {"low": 365, "medium": 180, "high": 30, "restricted": 7}

# Levels that need the subject's consent.
consent_levels := {"high", "restricted"}

# Helpers that turn a missing or mistyped value into an empty one, so a rule
# sees a default (and reports it) instead of failing on a type error.
as_object(x) := x if is_object(x)

as_object(x) := {} if not is_object(x)

as_array(x) := x if is_array(x)

as_array(x) := [] if not is_array(x)

doc := as_object(input)

signal := as_object(object.get(doc, "signal", {}))

signal_type := object.get(signal, "type", "unknown")

sensitivity := object.get(signal, "sensitivity", "missing")

consent := as_object(object.get(as_object(object.get(doc, "subject", {})), "consent", {}))

purpose := object.get(doc, "purpose", "unspecified")

consent_granted if consent.granted == true

deny contains msg if {
	not is_object(input)
	msg := "the sensitive-event document must be a JSON object"
}

deny contains msg if {
	object.get(doc, "event_id", "") == ""
	msg := "event has no event_id"
}

deny contains msg if {
	not retention_limit_days[sensitivity]
	msg := sprintf("signal '%v' has unknown sensitivity '%v' (expected low, medium, high or restricted)", [signal_type, sensitivity])
}

deny contains msg if {
	sensitivity in consent_levels
	not consent_granted
	msg := sprintf("sensitive signal '%v' (%v sensitivity) has no granted consent", [signal_type, sensitivity])
}

deny contains msg if {
	sensitivity in consent_levels
	consent_granted
	not purpose in as_array(object.get(consent, "purposes", []))
	msg := sprintf("purpose '%v' is not covered by the subject's consent for signal '%v'", [purpose, signal_type])
}

deny contains msg if {
	not is_number(object.get(doc, "retention_days", null))
	msg := "retention_days is missing or not a number"
}

deny contains msg if {
	limit := retention_limit_days[sensitivity]
	retention := doc.retention_days
	is_number(retention)
	retention > limit
	msg := sprintf("retention of %v days exceeds the %v-day limit for %v-sensitivity signals", [retention, limit, sensitivity])
}

deny contains msg if {
	object.get(doc, "export", null) != null
	region := object.get(as_object(doc.export), "region", "unspecified")
	not region in approved_regions
	msg := sprintf("export to region '%v' is not approved (approved: eu-central-1, eu-north-1, eu-west-1)", [region])
}

deny contains msg if {
	sensitivity == "restricted"
	object.get(doc, "export", null) != null
	msg := sprintf("restricted signal '%v' must not be exported", [signal_type])
}

deny contains msg if {
	some field in as_array(object.get(doc, "pii_fields", []))
	not field in as_array(object.get(doc, "redacted_fields", []))
	msg := sprintf("PII field '%v' is not redacted", [field])
}

deny contains msg if {
	some key in ["pii_fields", "redacted_fields"]
	not is_array(object.get(doc, key, []))
	msg := sprintf("%v must be an array of field paths", [key])
}
