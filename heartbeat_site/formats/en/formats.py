"""English: the short formats as the project always wrote them (ISO dates, 24-hour clock); the rest is Django's."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
