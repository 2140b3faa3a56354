"""The stand-in Moodle 4.1 web service the Moodle tests run against: it lives in
``demo.moodle_standin`` (the demo runs it too), with its parameter rules in
``demo.moodle_params``."""

from demo.moodle_standin import Enrolment, MoodleError, MoodleStandIn, Site, php_json

__all__ = ["Enrolment", "MoodleError", "MoodleStandIn", "Site", "php_json"]
