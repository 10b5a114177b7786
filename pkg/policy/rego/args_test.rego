package toolgate.args_test

import data.toolgate.args

c(path, op, value) := {"path": path, "op": op, "value": value, "labels": ["x:y"], "source": "t"}

msg := {
	"to": "bob@acme.com",
	"cc": ["a@acme.com", "eve@evil.com"],
	"bcc": null,
	"count": 51,
	"recipients": [{"email": "a@acme.com"}, {"email": "b@acme.com"}, {"name": "no email"}],
	"items": [{"amount": 10}, {"amount": 200000}],
	"flag": true,
	"nested": {"deep": {"er": {"still": "here"}}},
	"zero": {"0": "key named zero"},
}

test_values_plain_key if args.values(msg, ["to"]) == ["bob@acme.com"]

test_values_missing_key if args.values(msg, ["nope"]) == []

test_values_every_element if args.values(msg, ["recipients", "*", "email"]) == ["a@acme.com", "b@acme.com"]

test_values_index if args.values(msg, ["items", 1, "amount"]) == [200000]

test_values_index_out_of_range if args.values(msg, ["items", 7, "amount"]) == []

test_values_star_on_non_array if args.values(msg, ["to", "*"]) == []

test_values_nested if args.values(msg, ["nested", "deep", "er", "still"]) == ["here"]

# A string key "0" addresses an object key; the number 0 addresses an array element.
test_values_numeric_key_is_not_index if {
	args.values(msg, ["zero", "0"]) == ["key named zero"]
	args.values(msg, ["zero", 0]) == []
}

test_contains_string if args.holds(c(["to"], "contains", "@acme.com"), msg)

test_contains_in_array_without_star if args.holds(c(["cc"], "contains", "@evil.com"), msg)

test_contains_absent_field if not args.holds(c(["nope"], "contains", "@acme.com"), msg)

test_not_contains_holds if args.holds(c(["to"], "notContains", "@evil.com"), msg)

test_not_contains_fails_when_any_contains if not args.holds(c(["cc"], "notContains", "@acme.com"), msg)

# Negative conditions need a value: an absent recipient is not an external recipient.
test_not_contains_absent_field if not args.holds(c(["nope"], "notContains", "@acme.com"), msg)

test_not_contains_null_field if not args.holds(c(["bcc"], "notContains", "@acme.com"), msg)

test_matches if args.holds(c(["recipients", "*", "email"], "matches", "^b@"), msg)

test_matches_none if not args.holds(c(["recipients", "*", "email"], "matches", "^z@"), msg)

test_not_matches if args.holds(c(["to"], "notMatches", "evil"), msg)

test_not_matches_fails if not args.holds(c(["to"], "notMatches", "acme"), msg)

test_equals_string if args.holds(c(["to"], "equals", "bob@acme.com"), msg)

test_equals_number_rendered if args.holds(c(["count"], "equals", "51"), msg)

test_equals_boolean_rendered if args.holds(c(["flag"], "equals", "true"), msg)

test_equals_array_element if args.holds(c(["cc"], "equals", "eve@evil.com"), msg)

test_equals_mismatch if not args.holds(c(["to"], "equals", "bob"), msg)

test_present_true if args.holds(c(["to"], "present", true), msg)

test_present_true_null if not args.holds(c(["bcc"], "present", true), msg)

test_present_false_null if args.holds(c(["bcc"], "present", false), msg)

test_present_false_absent if args.holds(c(["nope"], "present", false), msg)

test_present_false_when_present if not args.holds(c(["to"], "present", false), msg)

test_greater_than if args.holds(c(["count"], "greaterThan", 50), msg)

test_greater_than_boundary if not args.holds(c(["count"], "greaterThan", 51), msg)

test_greater_than_any_element if args.holds(c(["items", "*", "amount"], "greaterThan", 100000), msg)

# A number in a string is not a number: classifiers compare JSON numbers only.
test_greater_than_string_is_not_number if not args.holds(c(["to"], "greaterThan", 0), msg)

test_less_than if args.holds(c(["items", "*", "amount"], "lessThan", 11), msg)

test_less_than_fails if not args.holds(c(["count"], "lessThan", 51), msg)

test_length_greater_than_array if args.holds(c(["recipients"], "lengthGreaterThan", 2), msg)

test_length_greater_than_array_boundary if not args.holds(c(["recipients"], "lengthGreaterThan", 3), msg)

test_length_greater_than_string if args.holds(c(["to"], "lengthGreaterThan", 5), msg)

test_length_of_object if args.holds(c(["nested"], "lengthLessThan", 2), msg)

test_length_of_number_never_holds if not args.holds(c(["count"], "lengthGreaterThan", 0), msg)

test_length_less_than if args.holds(c(["cc"], "lengthLessThan", 3), msg)

test_unknown_op_never_holds if not args.holds(c(["to"], "sortOf", "x"), msg)

test_max_depth_path if {
	deep := {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": "bottom"}}}}}}}}}}}}
	args.values(deep, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]) == ["bottom"]
	args.max_depth == 12
}

test_contains_on_number_never_holds if not args.holds(c(["count"], "contains", "5"), msg)
