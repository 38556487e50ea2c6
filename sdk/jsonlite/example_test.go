package jsonlite_test

import (
	"fmt"

	"fluvius.dev/fluvius/sdk/jsonlite"
)

func ExampleParse() {
	v, err := jsonlite.Parse([]byte(`{"email":"ann@example.com","tags":["a","b"],"age":42}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Get("email").Str(), v.Get("age").Int(), v.Get("tags").Len(), v.Get("missing").Exists())
	// Output: ann@example.com 42 2 false
}

func ExampleWriter() {
	var w jsonlite.Writer
	w.BeginObject().
		Key("name").String(`Ann "A"`).
		Key("roles").Strings([]string{"admin"}).
		Key("active").Bool(true).
		EndObject()
	fmt.Println(string(w.Bytes()))
	// Output: {"name":"Ann \"A\"","roles":["admin"],"active":true}
}
