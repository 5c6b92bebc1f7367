package alerts

import (
	"sort"

	"github.com/atmguard/kiosk/central"
)

func sortAlerts(a []central.Alert) {
	sort.Slice(a, func(i, j int) bool {
		if !a[i].CreatedAt.Equal(a[j].CreatedAt) {
			return a[i].CreatedAt.After(a[j].CreatedAt)
		}
		return a[i].ID > a[j].ID
	})
}
