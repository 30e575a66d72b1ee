package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	gmail "google.golang.org/api/gmail/v1"

	"github.com/crmsync/crmsync/shared/jobs"
	"github.com/crmsync/crmsync/shared/sandbox"
	"github.com/crmsync/crmsync/shared/topology"
)

// A storm through the real push path: the same Gmail notification
// published 40 times at once, and 40 jobs of every kind for the same user
// in random order (a preview of settings long since replaced among them).
// The labeled message is posted once; nothing else is posted or sent.
func redeliveryStorm(t *testing.T, ctx context.Context, parts sandbox.Parts, project string) {
	const ann = "ann@demo.test"
	gm := gmailAs(t, parts, ann)
	labels := labelsByName(t, gm)
	subject := "Storm " + project
	id, err := parts.Google.InsertMessage(ann, []byte("From: \"Carol Client\" <carol@client.test>\r\nTo: ann@demo.test\r\nSubject: "+subject+"\r\n\r\nStorm body.\r\n"), []string{"INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gm.Users.Messages.Modify("me", id, &gmail.ModifyMessageRequest{AddLabelIds: []string{labels["SmartOffice"]}}).Do(); err != nil {
		t.Fatal(err)
	}
	sentBefore := systemMail(t, parts, ann)

	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	gmailTopic := ps.Publisher(topology.TopicPath(project, topology.GmailTopic))
	jobsTopic := ps.Publisher(topology.TopicPath(project, topology.JobsTopic))
	defer gmailTopic.Stop()
	defer jobsTopic.Stop()
	note, _ := json.Marshal(map[string]any{"emailAddress": ann, "historyId": 1})
	var waits []*pubsub.PublishResult
	kinds := []string{jobs.MailSweep, jobs.WatchRenewal, jobs.ContactSync, jobs.CalendarSync}
	var js []jobs.Job
	for i := range 40 {
		js = append(js, jobs.Job{Kind: kinds[i%len(kinds)], User: ann})
	}
	js = append(js, jobs.Job{Kind: jobs.Preview, User: ann, Version: 1})
	rand.Shuffle(len(js), func(i, j int) { js[i], js[j] = js[j], js[i] })
	for i := range 40 {
		waits = append(waits, gmailTopic.Publish(ctx, &pubsub.Message{Data: note}))
		data, _ := json.Marshal(js[i])
		waits = append(waits, jobsTopic.Publish(ctx, &pubsub.Message{Data: data, Attributes: map[string]string{"kind": js[i].Kind}}))
	}
	data, _ := json.Marshal(js[40])
	waits = append(waits, jobsTopic.Publish(ctx, &pubsub.Message{Data: data}))
	for _, w := range waits {
		if _, err := w.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		got, _ := parts.Google.MessageLabels(ann, id)
		if slices.Contains(got, labels["SmartOfficePosted"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the storm's message was not posted within 60s: labels %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // the rest of the storm arrives and is handled
	carol, _ := parts.CRM.FindContacts(ctx, "", "carol@client.test")
	notes, err := parts.CRM.Notes(ctx, "", carol[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nt := range notes {
		if nt.Subject == subject {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notes of the storm's message, want 1", n)
	}
	got, _ := parts.Google.MessageLabels(ann, id)
	status := 0
	for _, l := range got {
		if l == labels["SmartOffice"] || l == labels["SmartOfficePosted"] || l == labels["SmartOfficeFailed"] || l == labels["SmartOfficeUnmatched"] {
			status++
		}
	}
	if status != 1 {
		t.Errorf("the message carries %d CRM labels (%v), want exactly Posted", status, got)
	}
	if after := systemMail(t, parts, ann); after != sentBefore {
		t.Errorf("the storm sent Ann %d system e-mails (a preview of old settings among them)", after-sentBefore)
	}
}

// systemMail counts the product's e-mail in a demo user's mailbox.
func systemMail(t *testing.T, parts sandbox.Parts, user string) int {
	gm := gmailAs(t, parts, user)
	list, err := gm.Users.Messages.List("me").Q(fmt.Sprintf("from:%s", sandbox.SystemSender)).Do()
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Messages)
}
