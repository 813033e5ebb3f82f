package node

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/shoal-batch/shoal/api"
)

// ownerGroups are the supplementary groups a job's processes carry, and
// the files opened for it: those this node's user database gives the
// job's owner when it starts, as Slurm's slurmd looks them up at launch.
// Group changes reach the next job, and the controller loads no group
// database modules (it resolves only the owner's name). A job whose
// controller resolved its groups at submit (an older one) keeps those.
// A uid without a passwd entry on this node has its own gid only.
func ownerGroups(j *api.Job) ([]uint32, error) {
	if len(j.Groups) > 0 {
		return j.Groups, nil
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(j.UID), 10))
	if err != nil {
		if errors.As(err, new(user.UnknownUserIdError)) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up uid %d: %w", j.UID, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("look up the groups of %s (uid %d): %w", u.Username, j.UID, err)
	}
	var groups []uint32
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != j.GID {
			groups = append(groups, uint32(n))
		}
	}
	return groups, nil
}
