package auth

import (
	"context"
	"fmt"
	"sort"

	"github.com/atmguard/kiosk/central/store"
)

// UserStore persists users. Lookups of unknown users return an error
// wrapping central.ErrNotFound; a name already taken by another id,
// central.ErrConflict. Implementations must be safe for concurrent use.
type UserStore interface {
	UserByName(ctx context.Context, name string) (*store.UserRecord, error)
	User(ctx context.Context, id string) (*store.UserRecord, error)
	// CreateUser assigns u.ID and stores u.
	CreateUser(ctx context.Context, u *store.UserRecord) error
	UpdateUser(ctx context.Context, u *store.UserRecord) error
	// Users returns every user sorted by name.
	Users(ctx context.Context) ([]store.UserRecord, error)
}

// StoreUsers keeps users in central's store (the users and user_names
// buckets).
type StoreUsers struct{ DB *store.DB }

func (s StoreUsers) UserByName(_ context.Context, name string) (*store.UserRecord, error) {
	var u *store.UserRecord
	err := s.DB.View(func(tx *store.Tx) error {
		var err error
		u, err = tx.UserByName(name)
		return err
	})
	return u, err
}

func (s StoreUsers) User(_ context.Context, id string) (*store.UserRecord, error) {
	var u *store.UserRecord
	err := s.DB.View(func(tx *store.Tx) error {
		var err error
		u, err = tx.User(id)
		return err
	})
	return u, err
}

func (s StoreUsers) CreateUser(_ context.Context, u *store.UserRecord) error {
	return s.DB.Update(func(tx *store.Tx) error {
		if _, err := tx.UserByName(u.Name); err == nil {
			return fmt.Errorf("user %q: %w: already exists", u.Name, errConflict)
		}
		n, err := tx.NextID("user")
		if err != nil {
			return fmt.Errorf("create user %q: %w", u.Name, err)
		}
		u.ID = fmt.Sprintf("u-%d", n)
		return tx.PutUser(u)
	})
}

func (s StoreUsers) UpdateUser(_ context.Context, u *store.UserRecord) error {
	return s.DB.Update(func(tx *store.Tx) error {
		if _, err := tx.User(u.ID); err != nil {
			return err
		}
		return tx.PutUser(u)
	})
}

func (s StoreUsers) Users(_ context.Context) ([]store.UserRecord, error) {
	var out []store.UserRecord
	err := s.DB.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Users()
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}
