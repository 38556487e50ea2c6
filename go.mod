module fluvius.dev/fluvius

go 1.26.0
