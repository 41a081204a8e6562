package replicas_test

import (
	"testing"

	"github.com/syncwatch/syncwatch/internal/apptest"
)

func TestMain(m *testing.M) { apptest.Main(m, nil) }
