package templates

import (
	"maps"
	"slices"
)

// categories is the vocabulary of Template.category: what kind of provider a
// template is for, so a catalogue of many providers can be browsed by kind.
var categories = map[string]bool{
	"payments":        true, // payments, billing, accounting
	"commerce":        true, // shops, marketplaces, subscriptions on a shop
	"communications":  true, // email, SMS, voice, chat, social messaging
	"marketing":       true, // marketing automation, affiliates, ads
	"crm":             true,
	"support":         true, // help desks and support inboxes
	"identity":        true, // authentication, SSO, user directories
	"developer-tools": true, // source control, CI, hosting, monitoring
	"productivity":    true, // documents, e-signature, forms, scheduling, work management
	"ai":              true, // AI and speech APIs
	"generic":         true, // a signing convention rather than one provider
}

// Categories lists the categories in order.
func Categories() []string { return slices.Sorted(maps.Keys(categories)) }

// IsCategory reports whether name is one of the categories.
func IsCategory(name string) bool { return categories[name] }
