// Command hello prints the shells a sysflux hub has seen start, and those that start from now on.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

func main() {
	hub, err := sysflux.Dial(context.Background(), os.Getenv("SYSFLUX_HUB"), sysflux.WithToken(os.Getenv("SYSFLUX_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	req := &hubv1.SubscribeRequest{Filter: "evt.type = execve and proc.name = sh", FromOldest: true,
		RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT}}
	for record, err := range hub.All(context.Background(), req) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(record.GetNodeId(), sysflux.Summary(record))
	}
}
