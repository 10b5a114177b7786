package toolgate.names_test

import data.toolgate.names

test_exact if {
	names.matches({"exact": ["send"]}, "send")
	not names.matches({"exact": ["send"]}, "sender")
}

test_prefix if {
	names.matches({"prefix": ["send_"]}, "send_email")
	names.matches({"prefix": [""]}, "anything")
	not names.matches({"prefix": ["send_"]}, "resend_email")
}

test_suffix if {
	names.matches({"suffix": ["_booking"]}, "modify_booking")
	not names.matches({"suffix": ["_booking"]}, "booking")
}

test_contains if {
	names.matches({"contains": ["_crm_"]}, "delete_crm_record")
	not names.matches({"contains": ["_crm_"]}, "crm")
}

# Globs have no delimiters: `*` crosses dots and slashes.
test_glob if {
	names.matches({"glob": ["files.*/a?l"]}, "files.read/all")
	names.matches({"glob": ["s[ae]nd_{mail,email}"]}, "send_email")
	not names.matches({"glob": ["s[ae]nd_{mail,email}"]}, "sind_email")
}

test_any_list if names.matches({"exact": ["x"], "suffix": ["_email"]}, "send_email")

test_empty_matcher if not names.matches({}, "send")
