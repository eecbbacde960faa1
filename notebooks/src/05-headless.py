# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: lang,tags,-all
#     main_language: python
#     notebook_metadata_filter: -all
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="en"
# # Lab 5 - Headless Service: DNS names for the pods themselves
#
# **You will learn to**
# - create a headless Service (`clusterIP: None`) and see what it does not have: no cluster IP, no
#   kube-proxy load balancing;
# - look up its name and get one A record per ready pod (DNS round robin);
# - reach each pod of a StatefulSet by its own name, `web-0.web-headless.lab-headless.svc.cluster.local`;
# - delete `web-0` and watch it come back with the same name and a new IP (a Deployment's pod would
#   not keep its name);
# - write a headless Service yourself and have it graded.

# %% [markdown] lang="ko"
# # 실습 5 - 헤드리스 서비스: 파드 자신의 DNS 이름
#
# **이 실습에서 배우는 것**
# - 헤드리스 서비스(`clusterIP: None`)를 만들고 이 서비스에 없는 것 확인하기: 클러스터 IP도,
#   kube-proxy의 로드 밸런싱도 없다
# - 서비스 이름을 조회해서 준비된 파드마다 A 레코드를 하나씩 받기(DNS 라운드 로빈)
# - 스테이트풀셋의 파드를 자기 이름 `web-0.web-headless.lab-headless.svc.cluster.local`로 찾기
# - `web-0`을 삭제하고, 같은 이름에 새 IP로 돌아오는 모습 보기(디플로이먼트의 파드는 이름을 유지하지
#   않는다)
# - 헤드리스 서비스를 직접 작성하고 채점받기

# %% [markdown] lang="en"
# ## 1. Set up
#
# Starts the namespace `lab-headless` from scratch and applies the StatefulSet `web` (three nginx
# pods named `web-0`, `web-1`, `web-2`, label `app.kubernetes.io/name: web-sts`, each answering
# with its own name) and the client pod `nginx01`. A StatefulSet starts its pods one after another:
# `web-1` only once `web-0` is ready.

# %% [markdown] lang="ko"
# ## 1. 실습 준비
#
# `lab-headless` 네임스페이스를 새로 만들고 스테이트풀셋 `web`(이름이 `web-0`, `web-1`, `web-2`인
# nginx 파드 3개, 라벨 `app.kubernetes.io/name: web-sts`, 각자 자기 이름으로 응답)과 클라이언트
# 파드 `nginx01`을 배포한다. 스테이트풀셋은 파드를 차례로 시작한다. `web-0`이 준비되어야 `web-1`을
# 만든다.

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("headless")

# %%
# !cat ../../manifests/headless/statefulset-web.yml
# !kubectl get all -n lab-headless -o wide

# %% [markdown] lang="en"
# ## 2. The concept
#
# A ClusterIP Service has one virtual IP: the cluster DNS answers its name with that address, and
# kube-proxy sends each connection to a random ready pod. Sometimes a client wants the pods
# themselves instead: a database client that must talk to the primary, members of a cluster that
# find each other, a client that balances on its own. A **headless** Service gives exactly that:
#
# - `spec.type` is ClusterIP and `spec.clusterIP` is `None`: no virtual IP, nothing for kube-proxy
#   to do;
# - the cluster DNS answers the Service's name with **one A record per ready pod** - the pods' own
#   addresses (DNS round robin: the client picks one);
# - when a StatefulSet names the Service in `spec.serviceName`, each of its pods also gets its own
#   name: `<pod>.<service>.<namespace>.svc.cluster.local`. Only then can a pod be found by its name.
#
# ```mermaid
# flowchart LR
#   subgraph clusterip["ClusterIP Service"]
#     c1(["nginx01"]) -- "web-service?" --> d1["cluster DNS"]
#     d1 -- "A 10.96.x.y (one virtual IP)" --> c1
#     c1 -- "10.96.x.y:80" --> kp["kube-proxy<br/>random ready pod"]
#     kp --> p1["pod"] & p2["pod"] & p3["pod"]
#   end
#   subgraph headless["headless Service (clusterIP: None)"]
#     c2(["nginx01"]) -- "web-headless?" --> d2["cluster DNS"]
#     d2 -- "A web-0 IP, A web-1 IP, A web-2 IP" --> c2
#     c2 -- "straight to one pod IP:80" --> w0["web-0"]
#     c2 -. "web-1.web-headless?" .-> d2
#   end
# ```

# %% [markdown] lang="ko"
# ## 2. 개념
#
# ClusterIP 서비스에는 가상 IP가 하나 있다. 클러스터 DNS는 서비스 이름을 그 주소로 응답하고,
# kube-proxy가 연결마다 준비된 파드 하나를 무작위로 골라 보낸다. 그런데 클라이언트가 파드 자체를
# 알아야 할 때가 있다. 프라이머리와 통신해야 하는 데이터베이스 클라이언트, 서로를 찾아야 하는
# 클러스터 멤버, 스스로 부하를 나누는 클라이언트가 그렇다. **헤드리스** 서비스가 바로 이것을
# 제공한다.
#
# - `spec.type`은 ClusterIP, `spec.clusterIP`는 `None`이다. 가상 IP가 없으니 kube-proxy가 할 일도
#   없다.
# - 클러스터 DNS는 서비스 이름에 대해 **준비된 파드마다 A 레코드 하나씩**, 즉 파드 자신의 주소를
#   돌려준다(DNS 라운드 로빈: 클라이언트가 하나를 고른다).
# - 스테이트풀셋이 `spec.serviceName`에 이 서비스를 적으면 각 파드도 자기 이름을 얻는다:
#   `<파드>.<서비스>.<네임스페이스>.svc.cluster.local`. 이때만 파드 이름으로 IP를 찾을 수 있다.
#
# ```mermaid
# flowchart LR
#   subgraph clusterip["ClusterIP 서비스"]
#     c1(["nginx01"]) -- "web-service 조회" --> d1["클러스터 DNS"]
#     d1 -- "A 10.96.x.y (가상 IP 하나)" --> c1
#     c1 -- "10.96.x.y:80" --> kp["kube-proxy<br/>준비된 파드 중 무작위"]
#     kp --> p1["파드"] & p2["파드"] & p3["파드"]
#   end
#   subgraph headless["헤드리스 서비스 (clusterIP: None)"]
#     c2(["nginx01"]) -- "web-headless 조회" --> d2["클러스터 DNS"]
#     d2 -- "A web-0 IP, A web-1 IP, A web-2 IP" --> c2
#     c2 -- "파드 IP:80으로 바로" --> w0["web-0"]
#     c2 -. "web-1.web-headless 조회" .-> d2
#   end
# ```

# %% [markdown] lang="en"
# ## 3. Create the headless Service
#
# The source material lists the conditions: `spec.type` ClusterIP, `spec.clusterIP` None, and (to
# find pods by name) `metadata.name` equal to the StatefulSet's `spec.serviceName`. `web`'s
# serviceName is `web-headless`, so that is the Service's name.

# %% [markdown] lang="ko"
# ## 3. 헤드리스 서비스 생성
#
# 원본 글의 생성 조건은 `spec.type`이 ClusterIP, `spec.clusterIP`가 None, 그리고 (파드 이름으로
# 찾으려면) `metadata.name`이 스테이트풀셋의 `spec.serviceName`과 같을 것이다. `web`의
# serviceName이 `web-headless`이므로 서비스 이름도 `web-headless`다.

# %%
# !cat ../../manifests/headless/service-headless.yml
# !kubectl apply -n lab-headless -f ../../manifests/headless/service-headless.yml

# %% [markdown] lang="en"
# `CLUSTER-IP` says `None`. The Service still has a selector, so it still has endpoints: one per
# ready pod. They are not used by kube-proxy but by the cluster DNS.

# %% [markdown] lang="ko"
# `CLUSTER-IP`가 `None`이다. 셀렉터가 있으므로 엔드포인트는 그대로 만들어진다(준비된 파드마다
# 하나). 이 엔드포인트를 쓰는 것은 kube-proxy가 아니라 클러스터 DNS다.

# %%
nb.require("headless", "service/web-headless", section="3")
lw.wait_endpoints("lab-headless", "web-headless", 3)
# !kubectl get svc -n lab-headless -o wide
# !kubectl get endpoints -n lab-headless web-headless

# %% [markdown] lang="en"
# ## 4. Ask the cluster DNS
#
# From `nginx01`, `getent hosts` prints one line per address. The Service's name gives the three
# pods' IPs (compare with the `IP` column above), not a cluster IP.

# %% [markdown] lang="ko"
# ## 4. 클러스터 DNS에 물어보기
#
# `nginx01`에서 `getent hosts`를 실행하면 주소마다 한 줄씩 출력된다. 서비스 이름으로 조회하면
# 클러스터 IP가 아니라 파드 3개의 IP가 나온다(위의 `IP` 열과 비교해 본다).

# %% tags=["needs-exec"]
nb.require("headless", "service/web-headless", "pod/nginx01", section="3")
# !kubectl exec -n lab-headless nginx01 -- getent hosts web-headless

# %% [markdown] lang="en"
# Each pod has its own name under the Service, because the StatefulSet set the pod's `hostname`
# (`web-0`) and `subdomain` (`web-headless`, its serviceName). The short form `web-0.web-headless`
# works from the same namespace; the full name works from anywhere in the cluster.

# %% [markdown] lang="ko"
# 파드마다 서비스 아래에 자기 이름이 있다. 스테이트풀셋이 파드의 `hostname`(`web-0`)과
# `subdomain`(serviceName인 `web-headless`)을 지정했기 때문이다. 같은 네임스페이스에서는 짧은 이름
# `web-0.web-headless`로, 클러스터 어디서든 전체 이름으로 조회된다.

# %% tags=["needs-exec"]
# !kubectl get pods -n lab-headless -l app.kubernetes.io/name=web-sts -o custom-columns=NAME:.metadata.name,HOSTNAME:.spec.hostname,SUBDOMAIN:.spec.subdomain,IP:.status.podIP
# !kubectl exec -n lab-headless nginx01 -- getent hosts web-0.web-headless.lab-headless.svc.cluster.local
# !kubectl exec -n lab-headless nginx01 -- getent hosts web-1.web-headless
# !kubectl exec -n lab-headless nginx01 -- curl -s http://web-2.web-headless/

# %% [markdown] lang="en"
# And plain requests to the Service's name? There is no kube-proxy in between: curl connects to one
# of the addresses DNS gave. Which one is the client's choice: CoreDNS rotates the order of the
# records, and the client's resolver may sort them again (glibc prefers addresses close to its
# own). The spread below comes from DNS, not from kube-proxy; a client that keeps its answer (a
# connection pool, a DNS cache) keeps talking to the same pod.

# %% [markdown] lang="ko"
# 그러면 서비스 이름으로 보낸 요청은 어떻게 될까? 중간에 kube-proxy가 없다. curl은 DNS가 알려 준
# 주소 중 하나로 직접 연결한다. 어느 주소를 쓸지는 클라이언트가 정한다. CoreDNS가 레코드 순서를
# 돌려 주고, 클라이언트의 리졸버가 다시 정렬하기도 한다(glibc는 자기 주소와 가까운 주소를 먼저
# 고른다). 아래의 분산은 kube-proxy가 아니라 DNS에서 나온 것이다. 응답을 기억해 두는 클라이언트
# (커넥션 풀, DNS 캐시)는 계속 같은 파드와 통신한다.

# %% tags=["needs-exec"]
lw.answers_chart(labs.probe("headless", "http://web-headless/", 20))

# %% [markdown] lang="en"
# ## 5. Same name, new IP
#
# Delete `web-0`. The StatefulSet creates it again **with the same name** (a Deployment's
# replacement gets a new random name, as the intro notebook showed) but, like any new pod, with a
# new IP. The DNS name `web-0.web-headless` follows it: clients that use the name never notice.

# %% [markdown] lang="ko"
# ## 5. 같은 이름, 새 IP
#
# `web-0`을 삭제한다. 스테이트풀셋은 **같은 이름으로** 파드를 다시 만든다(디플로이먼트의 대체
# 파드는 인트로 노트북에서 본 것처럼 새 무작위 이름을 받는다). 하지만 새 파드이므로 IP는 새로
# 받는다. DNS 이름 `web-0.web-headless`가 새 IP를 따라가므로, 이름을 쓰는 클라이언트는 알아채지
# 못한다.

# %%
nb.require("headless", "service/web-headless", section="3")
pods = lw.pods_table("lab-headless", "app.kubernetes.io/name=web-sts")
before = {name: p["status"].get("podIP") for name, p in pods.objects.items()}
before


# %%
def back_with_new_ip(objs):
    pod = objs.get("web-0") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod.get("status", {}).get("conditions") or [])
    return (ready and not pod["metadata"].get("deletionTimestamp")
            and pod["status"].get("podIP") not in (None, before.get("web-0")))


# !kubectl delete pod -n lab-headless web-0 --wait=false
pods.wait(back_with_new_ip, timeout=120)
pods.stop()
lw.wait_endpoints("lab-headless", "web-headless", 3)
print("web-0 before:", before.get("web-0"),
      " after:", pods.objects.get("web-0", {}).get("status", {}).get("podIP"))

# %% tags=["needs-exec"]
labs.lookup("headless", "web-0.web-headless")

# %% [markdown] lang="en"
# ## 6. Break it
#
# **A Service with a cluster IP in front of the same pods.** Leave out `clusterIP: None` and the
# API server allocates a virtual IP: DNS answers one address, and the pods get no names under this
# Service.

# %% [markdown] lang="ko"
# ## 6. 일부러 망가뜨려 보기
#
# **같은 파드 앞에 클러스터 IP가 있는 서비스.** `clusterIP: None`을 빼면 API 서버가 가상 IP를
# 할당한다. DNS는 주소 하나만 돌려주고, 이 서비스 아래에는 파드 이름이 생기지 않는다.

# %%
with_vip = nb.scratch("break-with-cluster-ip.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-with-vip
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: web-sts
  ports:
    - port: 80
      targetPort: http
""")
# !kubectl apply -n lab-headless -f work/break-with-cluster-ip.yml
# !kubectl get svc -n lab-headless web-with-vip

# %% tags=["needs-exec"]
labs.lookup("headless", "web-with-vip")

# %% tags=["needs-exec"]
labs.lookup("headless", "web-0.web-with-vip")

# %% [markdown] lang="en"
# **Make it headless afterwards?** A Service's cluster IP is set once: the API server refuses to
# change it to `None`. A headless Service has to be created headless (delete and create again).

# %% [markdown] lang="ko"
# **나중에 헤드리스로 바꿀 수 있을까?** 서비스의 클러스터 IP는 한 번 정해지면 바뀌지 않는다.
# API 서버는 `None`으로 바꾸는 요청을 거부한다. 헤드리스 서비스는 처음부터 헤드리스로 만들어야
# 한다(삭제하고 다시 만든다).

# %% tags=["expect-error"]
nb.scratch("break-make-headless.yml", with_vip.read_text().replace(
    "  type: ClusterIP\n", "  type: ClusterIP\n  clusterIP: None\n"))
# !kubectl apply -n lab-headless -f work/break-make-headless.yml

# %%
# !kubectl delete -n lab-headless -f work/break-with-cluster-ip.yml

# %% [markdown] lang="en"
# ## 7. Delete the walkthrough's Service
#
# The challenge is to write `web-headless` yourself.

# %% [markdown] lang="ko"
# ## 7. 따라 하기에서 만든 서비스 삭제
#
# 도전 과제에서 `web-headless`를 직접 작성한다.

# %%
# !kubectl delete -n lab-headless -f ../../manifests/headless/service-headless.yml --ignore-not-found

# %% [markdown] lang="en"
# ## 8. Challenge
#
# Fill in the `TODO`s below: a Service that
#
# - is named so that the StatefulSet `web` publishes its pods under it (`spec.serviceName`);
# - is headless;
# - selects the pods of `web`, on port 80 to the container port named `http`.
#
# Running the cell saves your YAML to `work/web-headless.yml` and applies it. If you applied a
# version with a cluster IP, delete it first (`kubectl delete svc -n lab-headless web-headless`).

# %% [markdown] lang="ko"
# ## 8. 도전 과제
#
# 아래 셀의 `TODO`를 채워 다음 조건의 서비스를 만든다.
#
# - 스테이트풀셋 `web`이 파드를 이 서비스 아래에 등록하도록 이름을 지을 것(`spec.serviceName`)
# - 헤드리스일 것
# - `web`의 파드를 선택하고, 80번 포트로 받아 이름이 `http`인 컨테이너 포트로 보낼 것
#
# 셀을 실행하면 작성한 YAML이 `work/web-headless.yml`에 저장되고 적용된다. 클러스터 IP가 있는
# 버전을 이미 적용했다면 먼저 삭제한다(`kubectl delete svc -n lab-headless web-headless`).

# %% tags=["challenge"]
my_service = """
apiVersion: v1
kind: Service
metadata:
  name: TODO
spec:
  type: ClusterIP
  clusterIP: TODO
  selector:
    TODO: TODO
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: TODO
"""
path = nb.my_manifest("web-headless.yml", my_service)
if path:
    labs.apply("headless", [path])

# %%
lw.hints(en=["The name is the StatefulSet's serviceName: kubectl get sts -n lab-headless web "
             "-o jsonpath='{.spec.serviceName}'",
             "clusterIP: None (the word None, not an address).",
             "Copy the label from the pod template of web: app.kubernetes.io/name: web-sts; "
             "targetPort: http."],
         ko=["이름은 스테이트풀셋의 serviceName이다: kubectl get sts -n lab-headless web "
             "-o jsonpath='{.spec.serviceName}'",
             "clusterIP: None (주소가 아니라 None이라는 단어)",
             "web의 파드 템플릿에 있는 라벨을 그대로 쓴다: app.kubernetes.io/name: web-sts, "
             "targetPort: http"])

# %% tags=["needs-exec"]
# !kubectl exec -n lab-headless nginx01 -- getent hosts web-headless web-0.web-headless

# %% [markdown] lang="en"
# ## 9. Check

# %% [markdown] lang="ko"
# ## 9. 채점

# %% tags=["check"]
labs.check("headless")

# %% [markdown] lang="en"
# ## 10. Clean up
#
# Deletes the namespace `lab-headless` and everything in it; `work/` keeps your file.

# %% [markdown] lang="ko"
# ## 10. 리소스 정리
#
# `lab-headless` 네임스페이스와 그 안의 모든 리소스를 삭제한다. `work/`에 저장한 파일은 남는다.

# %%
lw.stop_all()
labs.reset("headless")
