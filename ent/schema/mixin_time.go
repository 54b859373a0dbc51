package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin adds create_time and update_time, both set by the ORM in UTC.
type TimeMixin struct {
	mixin.Schema
}

func nowUTC() time.Time { return time.Now().UTC() }

// Fields of the mixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("create_time").Default(nowUTC).Immutable(),
		field.Time("update_time").Default(nowUTC).UpdateDefault(nowUTC),
	}
}
